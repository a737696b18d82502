"""Commands that run a service: ``rag serve`` (HTTP API and web page), ``rag slack`` (Socket
Mode bot) and ``rag llm-server`` (the local offline LLM)."""

from __future__ import annotations

import ipaddress
import os
import signal
import sys
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli.app import State, app, console, engine, err, fail, run, settings
from api.cli.sources import start_watching
from rag.config import Settings

if TYPE_CHECKING:
    import uvicorn


def loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes (each loads its own engine).")
    ] = 1,
    allow_open: Annotated[
        bool,
        typer.Option(
            "--allow-open",
            help="Serve a non-loopback address without RAG_API_KEYS (anyone can read, upload and delete).",
        ),
    ] = False,
    watch: Annotated[
        bool,
        typer.Option("--watch", help="Also poll the followed sources (`rag sources`) in the background."),
    ] = False,
) -> None:
    """Serve the HTTP API, the OpenAI-compatible endpoint and the web page (uvicorn)."""
    import uvicorn

    config = settings()
    if not loopback(host) and not config.api_keys and not (allow_open or config.allow_open):
        raise fail(
            f"Refusing to serve {host} without API keys: anyone who can reach it could read, upload "
            "and delete documents. Set RAG_API_KEYS=key1,key2 (clients send 'Authorization: Bearer "
            "<key>'), or pass --allow-open (RAG_ALLOW_OPEN=true) to serve it open on purpose.",
            2,
        )
    level = config.log_level.lower()
    _refuse_taken_port(host, port)  # before the models load, and before saying where it serves
    console.print(f"[dim]Serving on http://{host}:{port} (web page at /, API docs at /docs)[/]")
    if workers == 1:
        from api.app import create_app

        served = run(lambda: create_app(config))  # a store or model problem fails here, clearly
        watcher = start_watching(served.state.engine) if watch else None
        try:
            uvicorn.run(served, host=host, port=port, log_level=level)
        finally:
            if watcher is not None:
                watcher.stop()
        return
    _serve_workers(config, host, port, workers, watch)


def _refuse_taken_port(host: str, port: int) -> None:
    """Fail clearly when something already listens on ``host:port``."""
    from api.workers import refuse_if_taken

    try:
        refuse_if_taken(host, port)
    except OSError as exc:
        raise _cannot_listen(host, port, exc) from None


def _cannot_listen(host: str, port: int, exc: OSError) -> typer.Exit:
    return fail(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.", 1)


def _serve_workers(config: Settings, host: str, port: int, workers: int, watch: bool) -> None:
    """``rag serve --workers N``: uvicorn starts N processes, each building its own engine."""
    import uvicorn

    if not config.chroma_url and config.database_url is None:
        err.print(
            "[dim]Workers share the embedded store in this data dir; one ingest at a time is "
            "enforced by a lock.[/]"
        )
    if State.data_dir is not None:
        # Worker processes build their own Settings from the environment.
        os.environ["RAG_DATA_DIR"] = str(State.data_dir)
    if config.onnx_threads is None:
        # Each worker's embedding runs on its share of the cores: two workers' runs spinning on
        # every core each only make them wait on one another.
        os.environ["RAG_ONNX_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))
    watcher = None
    if watch:  # the workers serve; this process polls the sources, with an engine of its own
        from rag.engine import Engine

        watcher = start_watching(run(lambda: Engine(config)))
    served = uvicorn.Config(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=config.log_level.lower(),
    )
    try:
        _supervise(served)
    finally:
        if watcher is not None:
            watcher.stop()


def _supervise(served: uvicorn.Config) -> None:
    """Run the workers under uvicorn's supervisor, each on a socket of its own where the kernel
    spreads connections over them (``api.workers``)."""
    from uvicorn.supervisors import Multiprocess

    from api.workers import BalancedWorkers, balancing_supported

    if not balancing_supported():
        supervisor = Multiprocess(served, sockets=[served.bind_socket()])
    else:
        try:
            supervisor = BalancedWorkers(served)
        except OSError as exc:  # taken between the first check and now
            raise _cannot_listen(served.host, served.port, exc) from None
    with suppress(KeyboardInterrupt):
        supervisor.run()


@app.command()
def slack() -> None:
    """Run the Slack bot over Socket Mode (needs RAG_SLACK_BOT_TOKEN and RAG_SLACK_APP_TOKEN)."""
    from api.slack import check_settings, run_socket_mode

    config = settings()
    run(lambda: check_settings(config, socket_mode=True))
    # `docker stop`, systemd and `kill` send SIGTERM; shut down as on Ctrl-C. A bot started in
    # the background by a script cannot get Ctrl-C at all: the shell ignores SIGINT for it.
    signal.signal(signal.SIGTERM, _interrupt)
    with engine() as built:
        console.print("[dim]Connecting to Slack over Socket Mode; Ctrl-C to stop.[/]")
        with suppress(KeyboardInterrupt):
            run(lambda: run_socket_mode(built, config))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@app.command("llm-server")
def llm_server(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8080,
    threads: Annotated[int, typer.Option(min=1, help="CPU threads for generation.")] = 2,
    context: Annotated[int, typer.Option(min=512, help="Context window in tokens.")] = 4096,
    model_dir: Annotated[
        Path | None, typer.Option(help="Where the model is assembled (default: <data dir>/models).")
    ] = None,
    prepare: Annotated[
        bool, typer.Option("--prepare", help="Assemble and verify the model, then exit.")
    ] = False,
) -> None:
    """Serve the local offline LLM (Qwen2.5-Coder-1.5B, llama.cpp) on an OpenAI-compatible endpoint."""
    from rag import local_llm

    folder = model_dir or settings().resolved_data_dir() / "models"
    if not prepare and not local_llm.server_installed():
        raise fail(f"llama-cpp-python is not installed: {local_llm.INSTALL_HINT}.", 1)
    with err.status("Assembling and verifying the model (once)…"):
        model = run(lambda: local_llm.model_path(folder))
    if prepare:
        console.print(f"Model ready: {model}", highlight=False)
        return
    console.print(f"RAG_LLM_BASE_URL=http://{host}:{port}/v1", highlight=False)
    console.print(f"RAG_LLM_MODEL={local_llm.MODEL_ALIAS}", highlight=False)
    command = local_llm.server_command(model, host, port, threads, context)
    sys.stdout.flush()
    # Replace this process (not a child): stopping `rag llm-server` must stop the server too.
    os.execv(command[0], command)
