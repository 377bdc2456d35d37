"""Call flows: what the caller hears next, given where the call is and what they pressed."""

from ivr.flows import agents as agents
from ivr.flows import lockdown as lockdown
from ivr.flows import main as main
from ivr.flows import recovery as recovery
from ivr.flows import transactions as transactions
from ivr.flows.main import answer
from ivr.flows.menu import MENUS, STEPS, choose

__all__ = ["MENUS", "STEPS", "answer", "choose"]
