"""Running the stack: the `frontdoor` command (cli.py), the supervisor that starts and watches the
processes (supervisor.py, cluster.py), their settings, the embedded Redis, training, and the demo website.
Nothing here runs inside the Rasa server, the action server or the handoff service."""
