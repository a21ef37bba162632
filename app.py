"""GraphConv Lab: the shared frame, and the navigation built from the page registry (``ui/nav.py``).

Pages live in ``app_pages/``, not ``pages/``: Streamlit runs a folder named ``pages/`` in its legacy
multipage mode until ``st.navigation`` has run once, so on a fresh server a shared ``/train`` link
would skip this file.

Everything runs inside ``main()``, and only when Streamlit runs this file: while a page runs, Streamlit makes this
script the process's ``__main__`` module, so a training or job worker started then (multiprocessing's forkserver or
spawn) runs it again in the worker as ``__mp_main__`` before its task. There it would only import Streamlit and call
it without a session: about 17 "missing ScriptRunContext" and "use streamlit run" warnings per worker in the
server's log, and a second forkserver start-up from the worker (``prewarm``).
"""


def main() -> None:
    import os

    import streamlit as st
    import torch

    from core.training.memory import limit_malloc_arenas
    from core.training.process_backend import prewarm
    from ui import classroom
    from ui.nav import navigation
    from ui.store_url import store_url_from_secrets
    from ui.streamlit_internals import quiet_client_disconnects
    from ui.url_state import start_page

    @st.cache_resource
    def _start_up() -> None:
        """Once per server process, before the first page runs."""
        quiet_client_disconnects()  # a browser leaving mid-send is one log line, not two tracebacks
        store_url_from_secrets()  # GRAPHCONV_STORE_URL from Streamlit's secrets: a PostgreSQL store (docs/hosting.md)
        limit_malloc_arenas(2)  # the server's session and worker threads share two malloc arenas (core.training.memory)
        # Pages' tensor work (a graph's facts, a digit through a net) is small; on more threads it contends with the
        # training workers for the cores: a dense graph's facts took 0.2-0.35 s on 2 threads beside two runs, 0.02 s
        # on 1
        raw = os.environ.get("GRAPHCONV_SERVER_THREADS", "1").strip()
        torch.set_num_threads(max(1, int(raw)) if raw.isdigit() else 1)
        if not os.environ.get("GRAPHCONV_RAY_ADDRESS"):
            prewarm()  # training workers fork from a server that imports torch once: start it with the first page

    _start_up()
    st.set_page_config(page_title="GraphConv Lab", page_icon=":material/hub:", layout="wide")

    nav = st.navigation(navigation())  # the page registry: ui/nav.py
    start_page(nav.url_path)  # another page than the last run's: it starts from its own defaults (ui/url_state.py)
    st.sidebar.caption("GraphConv Lab — convolutions on graphs and groups, trained in your browser.")
    classroom.begin_page()  # classroom links (hide=...): what the link fixed, shown at the top of the sidebar
    nav.run()
    classroom.end_page()  # only after a page that ran to its end (nothing can be drawn after st.stop())


if __name__ != "__mp_main__":  # Streamlit runs it as "__main__"; a worker's multiprocessing start as "__mp_main__"
    main()
