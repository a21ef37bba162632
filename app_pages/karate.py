"""KarateClub: semi-supervised node classification with one labelled member per community."""

import streamlit as st

from core.analysis.karate import (
    DEFAULT_EPOCHS,
    DEFAULT_LR,
    DEFAULT_WIDTHS,
    KARATE_MODELS,
    MODEL_HELP,
    karate_state,
    request_karate,
)
from core.errors import UserInputError
from core.figures.karate import embedding_animation_figure, karate_curves_figure, prediction_graph_figure
from core.training.jobs import BusyError
from ui.display import guarded, plain
from ui.session import session_id
from ui.url_state import copy_link_button, url_choice, url_notices, url_number, url_slider

LRS = [0.001, 0.003, 0.01, 0.03, 0.1]
POLL_S = 0.5  # how often the page looks whether its training finished


def ask(wanted: dict):
    """Train ``wanted`` in a worker process (core.analysis.karate.request_karate): its job, or None after showing
    why not (the server is busy; an invalid value)."""
    try:
        return guarded(lambda: request_karate(**wanted, owner=session_id()))
    except BusyError as err:
        st.warning(f"{str(err)[0].upper()}{str(err)[1:]}.", icon=":material/hourglass_top:")
        return None


def settle(wanted: dict, job) -> None:
    """Record where the training of ``wanted`` is: shown when done, polled while queued or training."""
    if job is None:
        return
    if job.state == "done":
        st.session_state["k_trained"] = dict(wanted)
        st.session_state.pop("k_pending", None)
    elif job.pending:
        st.session_state["k_pending"] = dict(wanted)
    else:
        st.session_state.pop("k_pending", None)
        prefix = "Invalid setting" if isinstance(job.error, UserInputError) else "Training failed"
        st.error(f"{prefix} — {plain(job.error)}")  # quoted inert, without the server's paths


def render() -> None:
    st.title("KarateClub")
    st.caption(
        "Zachary's karate club: 34 members, 78 friendships, 4 communities. The network sees the community "
        "of only **one member per community** and must infer the other 30 from the friendships alone."
    )

    notice = st.container()  # filled at the end if the opened link had invalid values
    sb = st.sidebar
    model = url_choice(sb, "Layer type", list(KARATE_MODELS), "gcn", "k_model")
    sb.caption(MODEL_HELP[model])
    epochs = url_slider(sb, "Epochs", 10, 500, DEFAULT_EPOCHS, "k_epochs", step=10)
    lr = url_choice(sb, "Learning rate", LRS, DEFAULT_LR, "k_lr", widget="select_slider")
    seed = url_number(sb, "Seed", 0, 9999, 0, "k_seed")
    copy_link_button(sb)
    settings = {"model": model, "epochs": int(epochs), "lr": float(lr), "seed": int(seed)}
    widths = " → ".join(map(str, (34, *DEFAULT_WIDTHS)))

    def training_progress(wanted: dict) -> None:
        """While ``wanted`` waits or trains in its worker: where it is; the whole page reruns once it is done."""
        job = karate_state(**wanted)
        if job is None or not job.pending:
            st.rerun(scope="app")
        where = (
            "training now"
            if job.state == "running"
            else ("next to start" if job.position == 1 else f"waiting behind {job.position - 1} other training(s)")
        )
        st.info(
            f"Training a {wanted['model']} network ({widths} → 4) for {wanted['epochs']} epochs in a worker "
            f"process: {where}…",
            icon=":material/hourglass_top:",
        )

    if st.button("Train", icon=":material/play_arrow:", type="primary", key="k_train"):
        settle(settings, ask(settings))

    pending = st.session_state.get("k_pending")
    if pending:
        settle(pending, karate_state(**pending) or ask(pending))  # None: the pool forgot it (it ended long ago)
        pending = st.session_state.get("k_pending")
    last = st.session_state.get("k_trained")
    job = karate_state(**last) if last else None
    if last and (job is None or job.state != "done") and not pending:  # the result left the pool's cache: train again
        settle(last, ask(last))
        pending, job = st.session_state.get("k_pending"), karate_state(**last)
    if pending:
        st.fragment(run_every=POLL_S)(training_progress)(pending)

    if not last:
        if not pending:
            st.info(
                "Choose a layer type and press **Train** — 34 nodes train in about a second.",
                icon=":material/play_arrow:",
            )
    elif job is not None and job.state == "done":
        result = job.result
        if last != settings:
            st.caption(
                f"Showing the last training ({last['model']}, {last['epochs']} epochs, lr {last['lr']}, "
                f"seed {last['seed']}); press Train to use the current settings."
            )
        unl = int(result.unlabelled.sum())
        c1, c2, c3, c4 = st.columns(4)
        c1.metric(
            "Accuracy on unlabelled nodes",
            f"{result.accuracy:.1%}",
            help="Share of the 30 members whose community the network never saw that it predicts right.",
        )
        c2.metric("Correct", f"{int(((~result.wrong) & result.unlabelled).sum())} of {unl}")
        c3.metric("Labelled nodes", ", ".join(map(str, result.labelled_nodes)))
        c4.metric("Final training loss", f"{result.losses[-1]:.3f}")
        left, right = st.columns(2)
        left.plotly_chart(embedding_animation_figure(result), width="stretch", key="k_embedding")
        right.plotly_chart(prediction_graph_figure(result, seed=0), width="stretch", key="k_graph")
        st.plotly_chart(karate_curves_figure(result), width="stretch", key="k_curves")

    with st.expander("What am I looking at?", expanded=not last):
        st.markdown(
            f"- **The task**: node classification, semi-supervised. Every member gets the same uninformative "
            f"feature (a one-hot id: X = I₃₄), so the only clue is who is friends with whom. The loss sees the "
            f"community of 4 members (the stars); accuracy is measured on the other 30.\n"
            f"- **The network**: three graph convolutions {widths} with tanh, then a linear classifier 2 → 4 "
            f"(PyG's introductory example, a little wider). Each convolution mixes a member's features with "
            f"their friends', so after three layers a member's vector summarises their 3-hop neighbourhood.\n"
            f"- **Left**: the last hidden layer is 2-D, so it can be drawn as is. Press ▶ Play: before training "
            f"(epoch 0) the communities already sit apart a little — graph convolution alone smooths friends "
            f"together — and training pulls them into separate corners.\n"
            f"- **Right**: the club drawn with a spring layout, coloured by the predicted community; dark "
            f"outlines mark wrong predictions. Mistakes sit on the borders between communities.\n"
            f"- **Try**: GCN versus the others. With identity features, GraphSAGE and GIN can memorise each "
            f"node's own id and overfit the four labels; GCN's normalised averaging spreads the labels through "
            f"the friendships."
        )
    url_notices(notice)


if __name__ == "__main__":  # Streamlit runs a page's file as __main__; an import (a test's) draws nothing
    render()
