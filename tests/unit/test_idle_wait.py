"""IdleWait: the poll of a background loop stretches while nothing comes, and a wake-up
or found work brings it back to the shortest interval."""

from __future__ import annotations

import asyncio

from stockline.adapters.idle import IdleWait


async def test_the_poll_doubles_up_to_its_longest_while_unwoken() -> None:
    idle, wake = IdleWait(0.001, 0.006), asyncio.Event()
    seen = []
    for _ in range(5):
        assert await idle.wait(wake) is False
        seen.append(idle.current)
    assert seen == [0.002, 0.004, 0.006, 0.006, 0.006]


async def test_a_wake_up_ends_the_wait_at_once_and_restarts_the_poll_short() -> None:
    idle, wake = IdleWait(0.001, 60.0), asyncio.Event()
    for _ in range(3):
        await idle.wait(wake)
    asyncio.get_running_loop().call_soon(wake.set)
    assert await asyncio.wait_for(idle.wait(wake), 5) is True  # not the 8 ms poll, nor 60 s
    assert idle.current == 0.001 and wake.is_set()  # left for the caller to clear


async def test_work_found_restarts_the_poll_short() -> None:
    idle, wake = IdleWait(0.001, 1.0), asyncio.Event()
    await idle.wait(wake)
    await idle.wait(wake)
    idle.busy()
    assert idle.current == 0.001


async def test_a_longest_below_the_shortest_is_the_shortest() -> None:
    idle = IdleWait(0.01, 0.001)
    await idle.wait(asyncio.Event())
    assert idle.current == 0.01
