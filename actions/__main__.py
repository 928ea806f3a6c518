"""The action server: ``python -m actions`` takes rasa_sdk's arguments (``--port`` ...), starts loading
the knowledge base in the background, then serves the actions of this package."""

from __future__ import annotations

if __name__ == "__main__":  # rasa_sdk imports every module of the package: nothing runs on import
    from rasa_sdk.__main__ import main_from_args
    from rasa_sdk.endpoint import create_argument_parser

    from actions.kb import KnowledgeBaseProvider

    arguments = create_argument_parser().parse_args()
    arguments.actions = arguments.actions or "actions"
    KnowledgeBaseProvider.start_loading()
    main_from_args(arguments)
