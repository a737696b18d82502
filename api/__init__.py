"""HTTP transport: a FastAPI app (``create_app``) over one ``rag.engine.Engine``.

Routes are thin adapters: request model -> one engine call -> response model.
"""
