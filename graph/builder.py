"""The graph, wiring only: it reads like the diagram in DESIGN.md.

    initialize -> plan -> code (configspace | train | scenario, in parallel) -> verify
                                  ^                                              |
                                  +------------ retry with errors ---------------+
                                  |                                 verified -> optimize -> deploy
                                  +---- train recoded when too many trials crash ----+

`graph` (module level, no checkpointer) is what LangGraph Studio loads; the CLI builds
its own with a SQLite checkpointer in the run folder.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from graph.state import AgentState, InputState
from nodes.code import code, route_to_coders
from nodes.deploy import deploy
from nodes.initialize import initialize
from nodes.optimize import optimize, route_after_optimize
from nodes.plan import plan
from nodes.verify import route_after_verify, verify


def build_graph(checkpointer=None):
    builder = StateGraph(AgentState, input_schema=InputState)
    builder.add_node("initialize", initialize)
    builder.add_node("plan", plan)
    builder.add_node("code", code)
    builder.add_node("verify", verify)
    builder.add_node("optimize", optimize)
    builder.add_node("deploy", deploy)

    builder.add_edge(START, "initialize")
    builder.add_edge("initialize", "plan")
    builder.add_conditional_edges("plan", route_to_coders, ["code", END])
    builder.add_edge("code", "verify")
    builder.add_conditional_edges("verify", route_after_verify, ["code", "optimize", END])
    builder.add_conditional_edges("optimize", route_after_optimize, ["deploy", "code", END])
    builder.add_edge("deploy", END)
    return builder.compile(checkpointer=checkpointer, name="automl-agent")


graph = build_graph()
