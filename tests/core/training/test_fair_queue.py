"""The fair queue: the next slot goes to the visitor with the fewest runs training, oldest first; O(log n) a pick."""

import random
from collections import Counter

from core.training.fair_queue import FairQueue, fair_order
from core.training.runner import Job


def job(run_id, session):
    return Job(run_id, session, {}, {})


def reference_order(queued, running, served_order=None):
    """The rule written out the slow way: each pick goes to the session with the fewest runs training, then the one
    served longest ago (never served first; ``served_order``, default the running runs, were served in that order),
    then the oldest run."""
    counts = Counter(j.session for j in running)
    served = {j.session: i for i, j in enumerate(running if served_order is None else served_order)}
    left, order = sorted(queued, key=lambda j: j.run_id), []
    while left:
        pick = min(left, key=lambda j: (counts[j.session], served.get(j.session, -1), j.run_id))
        order.append(pick)
        counts[pick.session] += 1
        served[pick.session] = len(running) + len(order)
        left.remove(pick)
    return order


def test_a_visitor_trains_a_second_run_only_while_nobody_else_waits():
    q = FairQueue()
    for run_id, who in ((1, "alice"), (2, "alice"), (3, "alice"), (4, "bob"), (5, "carol")):
        q.append(job(run_id, who))
    picks = [q.pop_next() for _ in range(3)]
    assert [(j.run_id, j.session) for j in picks] == [(1, "alice"), (4, "bob"), (5, "carol")]
    assert q.position(2) == 1 and q.position(3) == 2 and len(q) == 2
    q.ended(picks[1])  # bob's run ends; bob waits for nothing, so alice's next run goes next
    assert q.pop_next().run_id == 2


def test_matches_the_rule_on_random_queues_with_removals_and_endings():
    rng = random.Random(0)
    for trial in range(200):
        sessions = [f"s{i}" for i in range(rng.randint(1, 6))] + [None]
        running = [job(1000 + i, rng.choice(sessions)) for i in range(rng.randint(0, 4))]
        queued = [job(i, rng.choice(sessions)) for i in range(rng.randint(0, 30))]
        assert [j.run_id for j in fair_order(queued, running)] == [j.run_id for j in reference_order(queued, running)]
        q = FairQueue()
        for j in running:  # served in their order, as fair_order counts them
            q.append(j)
            q.pop_next()
        for j in queued:
            q.append(j)
        gone = rng.sample(queued, k=min(len(queued), rng.randint(0, 3)))
        for j in gone:
            q.remove(j)
        served = list(running)
        if running:
            q.ended(running[0])
            running = running[1:]
        left = [j for j in queued if j not in gone]
        expected = [j.run_id for j in reference_order(left, running, served)]
        assert [j.run_id for j in q.order()] == expected, trial
        assert [q.pop_next().run_id for _ in left] == expected


def test_a_newcomer_takes_turns_with_two_sweeps_instead_of_waiting_behind_them():
    """The abuse benchmark's case: two sessions queue 12 runs each and hold both slots; an honest visitor's run comes
    after all of them in run ids. When a slot frees, the session whose run just ended ties with the newcomer at 0
    runs training; the newcomer, never served, goes first (under 'oldest run first' it came 23rd)."""
    q = FairQueue()
    for i in range(12):
        q.append(job(i, "sweep-a"))
        q.append(job(100 + i, "sweep-b"))
    training = [q.pop_next(), q.pop_next()]
    q.append(job(500, "honest"))
    q.ended(training.pop(0))  # sweep-a's first run ends
    assert q.pop_next().run_id == 500


def test_the_heap_stays_the_size_of_the_visitor_list():
    """Each pick pops the heap's top and pushes at most one entry per visitor: O(log n). Stale entries are
    dropped by an amortised rebuild, so the heap never grows with the number of picks."""
    q = FairQueue()
    for i in range(20_000):
        q.append(job(i, f"visitor-{i % 5000}"))
    for _ in range(3000):
        started = q.pop_next()
        q.started(started)
        q.ended(started)
        q.ended(started)
        assert len(q._heap) <= 4 * (5000 + 16)
    assert len(q) == 17_000
