"""Duty roster (一月一轮值), reception days (委员接待日) and quarterly consultations (一季一协商).

``problem`` holds the public entry points (:func:`plan_roster`, :class:`RosterProblem`); ``types`` the
vocabulary; ``model``/``decomp``/``solve``/``consult`` the solving stages; ``calendar`` and
``availability`` the inputs; ``outputs`` the tables and calendars.
"""
from .problem import *  # noqa: F401,F403
from .problem import __all__  # noqa: F401
