"""A lesson's reopen link in a real browser: a student who opens it sees the teacher's table, read-only.

A tiny launch of the tutorial lesson (its four runs, one epoch each) is trained in this process into the served
app's data folder, stored under one lesson kind as Run this lesson stores it. The teacher's page shows the finished
table and "Reopen this lesson"; that link, opened in a fresh browser context (no cookies, no session), shows the same
table with no Run this lesson button, and Run your own copy folded below it; with ``hide=ls_own`` not even that.
"""

from __future__ import annotations

import re

from core.training.store.groups import RunGroup
from tests.browser.conftest import SHOTS, VIEWPORT, settle

GRID_JS = """() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stDataFrame"]')].map(df =>
  [...df.querySelectorAll('[role="row"], tr')].map(r =>
    [...r.querySelectorAll('[role="gridcell"], [role="columnheader"], td, th')]
      .map(c => (c.innerText || c.textContent || '').trim())))"""
RUN_LESSON = re.compile(r"Run this lesson")


def _train_tiny_tutorial_launch(data_dir) -> tuple[RunGroup, list[int]]:
    from core.analysis.lessons import launch_plan
    from core.training.runs import execute
    from core.training.store import RunStore

    store = RunStore(data_dir / "runs.db")
    launch, plan = launch_plan("tutorial", True)
    ids = []
    for cfg, part in plan:
        cfg.training.epochs = 1
        ids.append(store.create_run(cfg.to_dict(), name=cfg.label(), group=part))
        execute(cfg, store, run_id=ids[-1])
    assert [store.require_run(i).status for i in ids] == ["finished"] * 4
    return launch, ids


def _table(pg) -> list[list[str]]:
    pg.locator('[data-testid="stMain"] [data-testid="stDataFrame"]').first.wait_for()
    pg.wait_for_function(
        "() => document.querySelector('[data-testid=stMain] [data-testid=stDataFrame] [role=gridcell],"
        " [data-testid=stMain] [data-testid=stDataFrame] td')"
    )
    grids = pg.evaluate(GRID_JS)
    return grids[0] if grids else []


def test_a_lessons_reopen_link_shows_the_same_table_read_only(server, page, browser, data_dir):
    launch, ids = _train_tiny_tutorial_launch(data_dir)
    page.goto(f"{server}/lessons?lesson=tutorial&ls_show={launch}")
    settle(page)
    reopen = page.locator('[data-testid="stMain"] a[data-testid="stPageLink-NavLink"]', has_text="Reopen this lesson")
    reopen.first.wait_for()
    teacher = _table(page)
    assert teacher[0][:3] == ["model", "run", "status"] and len(teacher) == 5
    assert [row[1] for row in teacher[1:]] == [str(i) for i in ids] and {row[2] for row in teacher[1:]} == {"finished"}
    href = reopen.first.get_attribute("href")
    link = href if href.startswith("http") else f"{server}/{href.lstrip('/')}"

    fresh = browser.new_context(viewport=VIEWPORT)  # a student: no cookies, no session, no widget state
    try:
        pg = fresh.new_page()
        pg.set_default_timeout(90_000)
        pg.goto(link)
        settle(pg)
        student = _table(pg)
        assert student == teacher
        assert pg.get_by_role("button", name=RUN_LESSON).count() == 0
        own = pg.locator('[data-testid="stMain"] [data-testid="stExpander"]', has_text="Run your own copy")
        assert own.count() == 1 and own.locator("details").first.get_attribute("open") is None  # folded
        pg.screenshot(path=str(SHOTS / "lesson_link_student.png"), full_page=True)

        pg.goto(f"{link}&hide=ls_own")  # the teacher's classroom link: no way to queue runs at all
        settle(pg)
        assert _table(pg) == teacher
        assert pg.get_by_role("button", name=RUN_LESSON).count() == 0
        assert (
            pg.locator('[data-testid="stMain"] [data-testid="stExpander"]', has_text="Run your own copy").count() == 0
        )
        fixed = pg.locator('[data-testid="stSidebar"]').get_by_text("Fixed by this link", exact=False).first
        assert "Run your own copy = not offered" in fixed.inner_text()
    finally:
        fresh.close()
