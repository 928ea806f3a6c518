"""The Request Tracker 5 connector (``python -m connector``): mirrors the handoff service's tickets into RT
and applies what agents do in RT (reply, resolve, move to another queue) to our tickets."""
