"""``GET /api/events``: Server-Sent Events (alert, case, update, decision) to a connected page.

Streams are capped per token and in total (429, from the hub before the stream
starts); each event is shown only to those who may see it, checked again when it
leaves the queue (an incident may have been reassigned while it waited).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from streams.web.events import sse_frame
from streams.web.state import STATE_KEY, who

HEARTBEAT_S = 15.0
GONE_CHECK_S = 1.0  # how often a live stream looks whether its client left (its slot is freed then)


async def events(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    principal = who(request)
    sub = state.hub.subscribe(principal)  # 429 past the caps, before the stream starts
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    try:
        await response.prepare(request)
        await response.write(b"retry: 2000\nevent: hello\ndata: {}\n\n")
        quiet = 0.0
        while True:
            try:
                event = await asyncio.wait_for(sub.queue.get(), GONE_CHECK_S)
            except TimeoutError:
                if request.transport is None or request.transport.is_closing():
                    break  # the client left: free its slot now, not at the next write
                quiet += GONE_CHECK_S
                if quiet >= HEARTBEAT_S:
                    quiet = 0.0
                    await response.write(b": ping\n\n")
                continue
            quiet = 0.0
            if event is None:
                break
            if not state.hub.visible(principal, event):  # reassigned while it waited in the queue
                continue
            await response.write(sse_frame(event))
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        state.hub.unsubscribe(sub)
    return response
