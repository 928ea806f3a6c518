"""The action server: ``python -m actions`` takes rasa_sdk's arguments (``--port`` ...), starts loading
the knowledge base in the background, then serves the actions of this package.

Besides rasa_sdk's ``/health`` (the process answers) it serves ``/ready``: 200 once the knowledge base is
loaded (articles parsed, indexes built, sentence embeddings computed or read from the cache), 503 with
the reason while it loads. The supervisor waits for ``/ready`` before it reports the stack as started,
so the first customer is never the one who waits for a cold embedding cache.

Only the Rasa server may call ``/webhook`` and ``/actions``: every call must carry ``Authorization: Bearer
$ACTION_SERVER_TOKEN`` (``frontdoor up`` generates the token and gives it to both; Rasa sends it from
``endpoints.yml``), since a forged tracker would otherwise act with any identity it claims. The server
does not start without the token.

With Redis configured it also runs the outbox's drain (actions/outbox.py): ticket requests parked while the
handoff service was down are sent once it is back, and the customer is told the reference."""

from __future__ import annotations


if __name__ == "__main__":  # rasa_sdk imports every module of the package: nothing runs on import
    from rasa_sdk import utils
    from rasa_sdk.endpoint import create_app, create_argument_parser
    from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
    from sanic import response
    from sanic.request import Request

    import asyncio
    import hmac
    import logging
    import sys

    from actions.kb import KnowledgeBaseProvider

    from actions.settings import action_settings

    config = action_settings()
    token = config.token
    if not token:
        sys.exit("ACTION_SERVER_TOKEN is not set: the action server only serves the Rasa server that sends it")

    arguments = create_argument_parser().parse_args()
    utils.configure_colored_logging(arguments.loglevel)
    utils.configure_file_logging(logging.getLogger(APPLICATION_ROOT_LOGGER_NAME), arguments.log_file,
                                 arguments.loglevel, arguments.logging_config_file)
    utils.update_sanic_log_level()
    KnowledgeBaseProvider.start_loading()
    from rasa_sdk.executor import ActionExecutor

    from actions.domain import local_domain, with_domain

    local_domain(config.domain_path)  # a missing or broken domain.yml stops the start, not the first call
    run_action = ActionExecutor.run

    async def run_with_domain(self: ActionExecutor, action_call: dict) -> object:  # type: ignore[type-arg]
        return await run_action(self, with_domain(action_call, config.domain_path))

    ActionExecutor.run = run_with_domain  # Rasa sends no domain (enable_selective_domain in endpoints.yml)
    app = create_app(arguments.actions or "actions", cors_origins=arguments.cors)

    @app.middleware("request")
    async def authenticate(request: Request) -> response.HTTPResponse | None:
        if request.path in ("/health", "/ready"):
            return None
        sent = request.headers.get("Authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return response.json({"error": "unauthorized: the action server serves only the Rasa server"},
                                 status=401)
        return None

    @app.get("/ready")
    async def ready(_: Request) -> response.HTTPResponse:
        state = KnowledgeBaseProvider.load_state()
        return response.json(state, status=200 if state["status"] == "ready" else 503)

    if config.redis_url:
        from actions.outbox import run_outbox_drain

        @app.listener("after_server_start")
        async def start_outbox_drain(app_: object, _loop: object) -> None:
            app.ctx.outbox_drain = asyncio.get_running_loop().create_task(run_outbox_drain(config))

        @app.listener("before_server_stop")
        async def stop_outbox_drain(app_: object, _loop: object) -> None:
            app.ctx.outbox_drain.cancel()

    # the configured interface (`frontdoor up` passes FRONTDOOR_HOST as SANIC_HOST), never all of them
    app.run(config.host, arguments.port, workers=1, access_log=False)
