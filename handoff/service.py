"""Use cases of the handoff service: create, status, claim, reply, escalate, resolve, SLA sweep...
Combines the pure routing/SLA rules with the store and the Rasa notifier; knows nothing of HTTP."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from typing import Any

from ujson import dumps as fast_dumps  # the create hot path: same JSON, less CPU

from bot.contract import (
    OPEN_STATUSES, SECRET_PREFIX, WAITING_STATUSES, CreateTicketRequest, Estimate, TicketCreated, TicketStatusView,
)
from handoff import sla
from handoff.errors import Conflict, Forbidden, InvalidTicket, RateLimited, TicketNotFound
from handoff.kbdraft import draft_issues, write_draft
from handoff.masking import mask_text
from handoff.matrix_source import MatrixSource
from bot.rasa_client import RasaNotifier
from handoff.routing import escalation_target, route
from handoff.settings import Settings
from handoff.store import ClaimedTicket, Change, Store, decode_ticket, static_doc
from handoff.tickets import build_doc, customer_keys, routing_facts

logger = logging.getLogger(__name__)

REPEAT_WINDOW = 7 * 24 * 3600.0


SLA_BATCH = 500  # due tickets read per round trip of a sweep
SLA_CONCURRENCY = 32  # due tickets checked at the same time (each change is its own atomic update)


def _minutes(seconds: float) -> int:
    return max(0, round(seconds / 60))


REPEAT_THRESHOLD = 3
SYSTEM = "sla-watcher"


class TicketService:
    def __init__(self, store: Store, matrix: MatrixSource, settings: Settings, clock: Callable[[], float],
                 notifier: RasaNotifier) -> None:
        self.store = store
        self.matrix = matrix
        self.settings = settings
        self.clock = clock
        self.notifier = notifier

    # -- bot side -------------------------------------------------------------------------------------

    async def create(self, request: CreateTicketRequest) -> tuple[TicketCreated, bool]:
        now = self.clock()
        conv = request["conversation_id"]
        cks = customer_keys(request)
        matrix = self.matrix.matrix
        facts = routing_facts(request)
        decision = route(matrix, facts)
        doc = build_doc(request, now)
        category = doc["category"]
        normal = self._variant(request, decision.priority, decision.queue, decision.tier, decision.rule, False, now)
        repeated = normal
        if sla.compute_priority(normal["fields"]["priority"], repeat_contact=True)[0] != normal["fields"]["priority"]:
            repeated = self._variant(request, decision.priority, decision.queue, decision.tier, decision.rule, True,
                                     now)
        variants = [normal, repeated]
        counters = [("stats:created_by_category", category), ("stats:created_by_queue", decision.queue)]
        counters += [("stats:handoff_by_tag", t.lower()) for t in doc["tags"]]
        counters += [("stats:handoff_by_article", a["id"]) for a in doc["articles_shown"]
                     if a.get("feedback") != "helped"]
        if doc["error_code"] or doc["product"]:
            counters.append(("stats:issues", f"{category}|{doc['error_code'] or doc['product']}"))
        secret = SECRET_PREFIX + secrets.token_urlsafe(24)
        verified = bool(request.get("customer", {}).get("verified") and request.get("customer", {}).get("id"))
        client = request.get("client") or ""
        limit = self.settings.tickets_per_client_hour if client and not verified else 0
        result = await self.store.create({
            "conv": conv, "secret": secret, "category": category, "queue": decision.queue, "customer_keys": cks,
            "now": repr(now), "cutoff": repr(now - REPEAT_WINDOW), "contacts_ttl": int(REPEAT_WINDOW) + 86400,
            "repeat_threshold": REPEAT_THRESHOLD, "counters": counters, "variants": variants,
            "verified": verified, "client": client, "client_limit": limit, "hour": int(now // 3600),
        }, doc)
        if result.outcome == "limited":
            raise RateLimited(f"this client has opened {limit} tickets in the last hour; the next one can be "
                              f"opened in {max(1, round((3600 - now % 3600) / 60))} min, or sooner by e-mail")
        if result.outcome == "created":
            fields = variants[1 if result.repeated_contact else 0]["fields"]
            logger.info("ticket %s created in %s (%s, rule %s)", result.reference, decision.queue,
                        fields["priority"], decision.rule)
            ticket = {**fields, "reference": result.reference, "secret_reference": secret}
            return await self._created(ticket, True, now), True
        if result.outcome == "attach":
            ticket = await self._attach(result.reference, request, now)
            return await self._created(ticket, False, now), False
        return await self._created(await self.store.ticket(result.reference, with_lists=False), False, now), False

    async def estimate(self, request: CreateTicketRequest) -> Estimate:
        """Queue, priority and promised first response of this request if it became a ticket now (the
        same routing, priority and SLA as ``create``; nothing is stored)."""
        now = self.clock()
        decision = route(self.matrix.matrix, routing_facts(request))
        fields = self._variant(request, decision.priority, decision.queue, decision.tier, decision.rule, False,
                               now)["fields"]
        position = await self.store.queue_length(decision.queue) + 1
        at = await self._promise(decision.queue, fields["priority"], float(fields["first_response_due"]), position,
                                 now)
        return Estimate(queue=decision.queue, tier=decision.tier, priority=fields["priority"],
                        expected_first_response_minutes=_minutes(at - now), expected_first_response_at=at)

    async def _promise(self, queue: str, priority: str, due: float, position: int, now: float) -> float:
        waits = await self.store.recent_waits(queue)
        return sla.expected_first_response(now, due, priority, position, waits, self.settings.default_wait_minutes,
                                           self.settings.business_hours)

    def _variant(self, request: CreateTicketRequest, base: str, queue: str, tier: int, rule: str, repeat: bool,
                 now: float) -> dict[str, Any]:
        """State fields, queue score, history and event of a new ticket, with or without the
        repeated-contact raise (the create script picks one once it has counted the contacts)."""
        priority, reasons = sla.compute_priority(
            base, impact=request.get("impact", "only_me"),
            customer_tier=request.get("customer", {}).get("tier", "standard"),
            frustrated=bool(request.get("frustrated")), repeat_contact=repeat, urgency=request.get("urgency", "normal"),
        )
        due = sla.deadlines(priority, tier, now, self.settings.business_hours)
        fields: dict[str, str] = {
            "status": "queued", "queue": queue, "tier": str(tier), "priority": priority, "agent": "",
            "version": "1", "created_at": repr(now), "updated_at": repr(now), "enqueued_at": repr(now),
            "tier_entered_at": repr(now), "first_response_due": repr(due.first_response_due),
            "resolution_due": repr(due.resolution_due), "warn_at": repr(sla.warn_time(now, due.first_response_due)),
            "warned": "0", "breached": "0", "routing_rule": rule, "priority_reasons": fast_dumps(reasons),
        }
        if due.tier_due is not None:
            fields["tier_due"] = repr(due.tier_due)
        history = {"at": now, "by": "bot", "action": "created",
                   "reason": f"routed by rule {rule} to {queue} ({priority})"}
        event = {"queue": queue, "priority": priority, "category": request.get("category") or "general",
                 "channel": request["channel"], "rule": rule}
        at = sla.next_check(fields, OPEN_STATUSES)
        return {"fields": fields, "score": repr(sla.queue_score(priority, due.first_response_due)),
                "sla_next": "" if at is None else repr(at), "history": fast_dumps(history), "event": fast_dumps(event)}

    async def _attach(self, ref: str, request: CreateTicketRequest, now: float) -> dict[str, Any]:
        conv, channel = request["conversation_id"], request["channel"]
        winner = await self.store.link_conversation(conv, ref)
        if winner != ref:  # a concurrent retry of this conversation got there first
            return await self.store.ticket(winner, with_lists=False)

        def decide(ticket: dict[str, Any]) -> Change | None:
            doc = static_doc(ticket)
            if any(c["conversation_id"] == conv for c in doc.get("channels", [])):
                return None
            doc["channels"] = [*doc.get("channels", []),
                               {"channel": channel, "conversation_id": conv, "attached_at": now}]
            doc["transcript"] = [*doc.get("transcript", []), *build_doc(request, now)["transcript"]]
            return Change(action="attached", by="bot", reason=f"same customer wrote again via {channel} "
                          f"(conversation {conv})", doc=doc, event_data={"channel": channel})

        logger.info("conversation attached to open ticket %s", ref)
        return await self.store.mutate(ref, decide, now)

    async def _created(self, ticket: dict[str, Any], created: bool, now: float) -> TicketCreated:
        due = float(ticket["first_response_due"])
        position = None
        at = due
        if ticket["status"] in WAITING_STATUSES:
            position = await self.store.queue_position(ticket["queue"], ticket["reference"])
            if position is not None:
                at = await self._promise(ticket["queue"], ticket["priority"], due, position, now)
        return TicketCreated(
            reference=ticket["reference"], secret_reference=ticket["secret_reference"], queue=ticket["queue"],
            tier=int(ticket["tier"]), priority=ticket["priority"], status=ticket["status"],
            first_response_due=due, expected_first_response_minutes=_minutes(at - now),
            expected_first_response_at=at, queue_position=position, created=created,
        )

    async def status_by_secret(self, secret: str) -> TicketStatusView:
        return await self.status_view(await self.store.ref_for_secret(secret))

    async def status_by_conversation(self, conversation_id: str) -> TicketStatusView:
        ref = await self.store.conversation_ref(conversation_id)
        if ref is None:
            raise TicketNotFound(f"no ticket for conversation {conversation_id}")
        return await self.status_view(ref)

    async def status_view(self, ref: str) -> TicketStatusView:
        ticket = await self.store.ticket(ref)
        position = wait = at = None
        if ticket["status"] in WAITING_STATUSES:
            position = await self.store.queue_position(ticket["queue"], ref)
            if position is not None and not ticket.get("replies"):
                now = self.clock()
                at = await self._promise(ticket["queue"], ticket["priority"], float(ticket["first_response_due"]),
                                         position, now)
                wait = _minutes(at - now)
        return TicketStatusView(
            reference=ref, status=ticket["status"], queue=ticket["queue"], priority=ticket["priority"],
            queue_position=position, expected_wait_minutes=wait, expected_first_response_at=at,
            agent_replies=[{"sender": "agent", "text": r["text"], "timestamp": r["timestamp"]}
                           for r in ticket.get("replies", [])],
            updated_at=float(ticket["updated_at"]),
        )

    async def customer_message(self, conversation_id: str, text: str, timestamp: float | None) -> dict[str, Any]:
        """A message the customer wrote while an agent owns the conversation (relayed by the bot)."""
        ref = await self.store.conversation_ref(conversation_id)
        if ref is None:
            raise TicketNotFound(f"no ticket for conversation {conversation_id}")
        now = self.clock()
        turn = {"sender": "customer", "text": mask_text(text), "timestamp": timestamp if timestamp is not None else now}

        def decide(t: dict[str, Any]) -> Change:
            if t["status"] not in OPEN_STATUSES:
                raise Conflict(f"ticket {ref} is {t['status']}")
            doc = static_doc(t)
            doc["transcript"] = [*doc.get("transcript", []), turn][-500:]
            fields: dict[str, str | int | float] = {}
            if t["status"] == "waiting_customer":
                fields["status"] = "claimed"
            return Change(action="customer_message", by="customer", reason=f"message via conversation "
                          f"{conversation_id}", doc=doc, fields=fields)

        ticket = await self.store.mutate(ref, decide, now)
        return {"reference": ref, "status": ticket["status"]}

    async def list_tickets(self, *, agent: str | None, queue: str | None, status: str | None) -> list[dict[str, Any]]:
        """Open tickets (for the agents' console), optionally only one agent's, one queue's or one status."""
        rows = []
        for t in await self.store.tickets_state(await self.store.open_refs()):
            if (agent and t.get("agent") != agent) or (queue and t.get("queue") != queue) or (
                    status and t.get("status") != status):
                continue
            rows.append({k: t.get(k) for k in ("reference", "status", "queue", "tier", "priority", "agent",
                                               "category", "language", "first_response_due", "updated_at")})
        return sorted(rows, key=lambda r: (str(r["priority"]), float(r["first_response_due"] or 0)))

    async def customer_tickets(self, customer_id: str) -> list[TicketStatusView]:
        refs = await self.store.customer_refs(f"id:{customer_id}")
        return [await self.status_view(ref) for ref in refs]

    async def rate(self, ref: str, rating: int, comment: str) -> dict[str, Any]:
        now = self.clock()

        def decide(ticket: dict[str, Any]) -> Change:
            if ticket["status"] not in ("resolved", "closed"):
                raise Conflict(f"ticket {ref} is {ticket['status']}; it can be rated once resolved")
            counters = [("stats:ratings", str(rating), 1)]
            if ticket.get("agent"):
                counters += [(f"agent:{ticket['agent']}", "rating_sum", rating),
                             (f"agent:{ticket['agent']}", "rating_count", 1)]
            return Change(action="rated", by="customer", reason=f"satisfaction {rating}/5",
                          fields={"rating": rating, "status": "closed"},
                          push=[("ratings", {"rating": rating, "comment": mask_text(comment), "at": now})],
                          counters=counters, event_data={"rating": rating})

        ticket = await self.store.mutate(ref, decide, now)
        return {"reference": ref, "rating": rating, "status": ticket["status"]}

    # -- agent side -----------------------------------------------------------------------------------

    def _check_queues(self, queues: list[str]) -> list[str]:
        known = self.matrix.matrix.queues
        unknown = [q for q in queues if q not in known]
        if unknown:
            raise InvalidTicket(f"unknown queue(s): {', '.join(unknown)}")
        return queues or list(known)

    async def queues(self) -> list[dict[str, Any]]:
        matrix = self.matrix.matrix
        stats = await self.store.queue_stats(matrix.queues, self.clock())
        for item in stats:
            queue = matrix.queues[item["queue"]]
            item["tier"] = queue.tier
            item["description"] = queue.description
        return stats

    async def claim_next(self, agent: str, queues: list[str]) -> ClaimedTicket | None:
        claimed = await self.store.claim_next(self._check_queues(queues), agent, self.clock())
        if claimed is not None:
            logger.info("ticket %s claimed by %s", claimed.reference, agent)
        return claimed

    async def view(self, ref: str) -> dict[str, Any]:
        return await self.store.ticket(ref)

    async def note(self, ref: str, agent: str, text: str) -> dict[str, Any]:
        now = self.clock()
        note = {"agent": agent, "text": text, "timestamp": now}
        await self.store.mutate(ref, lambda t: Change(action="note", by=agent, reason="internal note",
                                                      push=[("notes", note)]), now)
        return await self.store.ticket(ref)

    def _require_owner(self, ticket: dict[str, Any], agent: str, role: str, what: str) -> None:
        if role != "lead" and ticket.get("agent") != agent:
            raise Forbidden(f"only the agent who claimed ticket {ticket['reference']} or a lead may {what} it")

    async def reply(self, ref: str, agent: str, role: str, text: str) -> dict[str, Any]:
        ticket = await self.store.ticket(ref, with_lists=False)
        if ticket["status"] not in ("claimed", "waiting_customer"):
            raise Conflict(f"ticket {ref} is {ticket['status']}; claim it before replying")
        self._require_owner(ticket, agent, role, "reply to")
        conversation = ticket["channels"][-1]["conversation_id"]
        delivered = await self.notifier.trigger(conversation, "agent_message",
                                                {"agent_text": text, "agent_name": agent})
        now = self.clock()

        def decide(t: dict[str, Any]) -> Change:
            if t["status"] not in ("claimed", "waiting_customer"):
                raise Conflict(f"ticket {ref} is {t['status']}")
            fields: dict[str, str | int | float] = {"status": "waiting_customer"}
            if not t.get("first_response_at"):
                fields["first_response_at"] = repr(now)
            return Change(action="reply", by=agent, reason="reply to the customer"
                          + ("" if delivered else " (not delivered to the chat)"), fields=fields,
                          push=[("replies", {"agent": agent, "text": text, "timestamp": now,
                                             "delivered": delivered, "conversation_id": conversation})],
                          counters=[(f"agent:{agent}", "replies", 1)], event_data={"delivered": delivered})

        await self.store.mutate(ref, decide, now)
        return {"reference": ref, "delivered": delivered, "status": "waiting_customer"}

    async def escalate(self, ref: str, agent: str, role: str, to_queue: str | None, reason: str) -> dict[str, Any]:
        matrix = self.matrix.matrix
        if to_queue is not None and to_queue not in matrix.queues:
            raise InvalidTicket(f"unknown queue {to_queue!r}")
        now = self.clock()

        def decide(t: dict[str, Any]) -> Change:
            if t["status"] not in OPEN_STATUSES:
                raise Conflict(f"ticket {ref} is {t['status']}; reopen it first")
            self._require_owner(t, agent, role, "escalate")
            target = matrix.queues[to_queue] if to_queue else escalation_target(matrix, t["category"], t["queue"])
            if target.name == t["queue"]:
                raise Conflict(f"ticket {ref} is already in queue {target.name}")
            return self._move(t, target.name, target.tier, agent, reason, now)

        await self.store.mutate(ref, decide, now)
        logger.info("ticket %s escalated by %s", ref, agent)
        return await self.store.ticket(ref)

    def _move(self, t: dict[str, Any], queue: str, tier: int, by: str, reason: str, now: float) -> Change:
        priority = t["priority"]
        tier_due = sla.tier_deadline(priority, tier, now, self.settings.business_hours)
        fields: dict[str, str | int | float] = {
            "status": "escalated", "queue": queue, "tier": tier, "agent": "", "enqueued_at": repr(now),
            "tier_entered_at": repr(now), "tier_due": repr(tier_due) if tier_due is not None else "",
        }
        counters = [("stats:escalated_by_category", t["category"], 1), ("stats:escalated_to_queue", queue, 1),
                    ("stats:escalations_by_agent", by, 1)]
        counters += [("stats:escalated_by_tag", tag.lower(), 1) for tag in t.get("tags", [])]
        counters += [("stats:escalated_by_article", a["id"], 1) for a in t.get("articles_shown", [])]
        return Change(
            action="escalated", by=by, reason=reason, fields=fields,
            queue_remove=t["queue"] if t["status"] in WAITING_STATUSES else None,
            queue_add=(queue, sla.queue_score(priority, float(t["first_response_due"]))),
            counters=counters, event_data={"from_queue": t["queue"], "to_queue": queue, "tier": tier},
        )

    async def resolve(self, ref: str, agent: str, role: str, resolution: str,
                      proposal: dict[str, Any] | None) -> dict[str, Any]:
        now = self.clock()

        def decide(t: dict[str, Any]) -> Change:
            if t["status"] not in OPEN_STATUSES:
                raise Conflict(f"ticket {ref} is already {t['status']}")
            self._require_owner(t, agent, role, "resolve")
            return Change(action="resolved", by=agent, reason="resolved", fields={
                "status": "resolved", "resolution": resolution, "resolved_at": repr(now)},
                queue_remove=t["queue"] if t["status"] in WAITING_STATUSES else None, close_open_keys=True,
                counters=[(f"agent:{agent}", "resolved", 1), ("stats:resolved_by_category", t["category"], 1)],
                event_data={"queue": t["queue"], "category": t["category"]})

        ticket = await self.store.mutate(ref, decide, now)
        draft = None
        issues: list[str] = []
        if proposal is not None:
            path = write_draft(self.settings.kb_drafts_dir, proposal, ref, ticket.get("product", ""),
                               ticket.get("error_code", ""))
            draft = str(path)
            matrix = self.matrix.matrix
            issues = draft_issues(path, matrix.taxonomy)
            await self.store.add_event("kb_draft_proposed", ref, now, {"by": agent, "path": draft})
        handed_back = []
        for channel in ticket.get("channels", []):
            handed_back.append(await self.notifier.trigger(channel["conversation_id"], "ticket_resolved",
                                                           {"reference": ref}))
        logger.info("ticket %s resolved by %s", ref, agent)
        return {"ticket": await self.store.ticket(ref), "draft_path": draft, "draft_issues": issues,
                "bot_notified": all(handed_back)}

    async def reopen(self, ref: str, agent: str, reason: str) -> dict[str, Any]:
        now = self.clock()

        def decide(t: dict[str, Any]) -> Change:
            if t["status"] not in ("resolved", "closed"):
                raise Conflict(f"ticket {ref} is {t['status']}, not resolved")
            return Change(action="reopened", by=agent, reason=reason, fields={
                "status": "queued", "agent": "", "enqueued_at": repr(now), "resolution": "",
                "reopened": int(t.get("reopened", 0)) + 1},
                queue_add=(t["queue"], sla.queue_score(t["priority"], float(t["first_response_due"]))),
                reopen_keys=True, counters=[("stats:reopened_by_category", t["category"], 1)])

        await self.store.mutate(ref, decide, now)
        return await self.store.ticket(ref)

    async def release(self, ref: str, agent: str, role: str, reason: str) -> dict[str, Any]:
        now = self.clock()

        def decide(t: dict[str, Any]) -> Change:
            if t["status"] not in ("claimed", "waiting_customer"):
                raise Conflict(f"ticket {ref} is {t['status']}, not claimed")
            self._require_owner(t, agent, role, "release")
            return Change(action="released", by=agent, reason=reason or "released", fields={
                "status": "queued", "agent": "", "enqueued_at": repr(now)},
                queue_add=(t["queue"], sla.queue_score(t["priority"], float(t["first_response_due"]))))

        await self.store.mutate(ref, decide, now)
        return await self.store.ticket(ref)

    async def agent_stats(self) -> list[dict[str, Any]]:
        out = []
        for name in await self.store.agent_names():
            counts = await self.store.counters(f"agent:{name}")
            rating_count = counts.get("rating_count", 0)
            out.append({
                "agent": name, "claimed": counts.get("claimed", 0), "resolved": counts.get("resolved", 0),
                "replies": counts.get("replies", 0),
                "escalated": (await self.store.counters("stats:escalations_by_agent")).get(name, 0),
                "average_rating": round(counts.get("rating_sum", 0) / rating_count, 2) if rating_count else None,
            })
        return out

    async def analytics(self) -> dict[str, Any]:
        created = await self.store.counters("stats:created_by_category")
        escalated = await self.store.counters("stats:escalated_by_category")
        handoff_articles = await self.store.counters("stats:handoff_by_article")
        escalated_articles = await self.store.counters("stats:escalated_by_article")
        handoff_tags = await self.store.counters("stats:handoff_by_tag")
        escalated_tags = await self.store.counters("stats:escalated_by_tag")

        def rates(base: dict[str, int], up: dict[str, int]) -> list[dict[str, Any]]:
            rows = [{"key": k, "tickets": n, "escalated": up.get(k, 0),
                     "escalation_rate": round(up.get(k, 0) / n, 3) if n else 0.0} for k, n in base.items()]
            return sorted(rows, key=lambda r: (-r["tickets"], r["key"]))

        by_agent = await self.store.counters("stats:escalations_by_agent")
        issues = await self.store.counters("stats:issues")
        return {
            "by_category": rates(created, escalated),
            "by_article": rates(handoff_articles, escalated_articles),
            "by_tag": rates(handoff_tags, escalated_tags),
            "agents_escalating_most": [{"agent": a, "escalations": n} for a, n in
                                       sorted(by_agent.items(), key=lambda kv: -kv[1]) if a != SYSTEM][:10],
            "recurring_issues": [{"category": k.split("|", 1)[0], "issue": k.split("|", 1)[1], "tickets": n}
                                 for k, n in sorted(issues.items(), key=lambda kv: -kv[1]) if n >= 2][:20],
            "ratings": await self.store.counters("stats:ratings"),
        }

    # -- SLA watcher ----------------------------------------------------------------------------------

    async def sweep_sla(self) -> dict[str, int]:
        """One SLA sweep: warn before a breach (and raise priority), mark breaches, move tier-1 tickets
        past their limit up to tier 2. One instance per sweep (lock); every change re-checks atomically.
        Reads only the tickets whose next check is due (the ``sla:due`` schedule every write keeps), so its
        cost follows the tickets that are due, not all open ones."""
        now = self.clock()
        owner = f"{self.settings.instance_id}:{secrets.token_hex(4)}"
        counts = {"warned": 0, "breached": 0, "escalated": 0, "tier_alerts": 0}
        interval = self.settings.sla_interval or 30.0
        ttl = max(1000, int(interval * 1000))
        if not await self.store.acquire_lock("sla", owner, ttl):
            return counts
        try:
            await self.store.backfill_sla_schedule()
            seen: set[str] = set()
            slots = asyncio.Semaphore(SLA_CONCURRENCY)

            async def check(t: dict[str, Any]) -> None:
                async with slots:
                    if t.get("status") in OPEN_STATUSES:
                        for kind in self._sla_candidates(t, now):
                            outcome = await self._sla_step(t["reference"], kind, now)
                            if outcome:
                                counts[outcome] += 1
                    # due but with nothing (more) to do now: its next check, or the next sweep
                    await self.store.reschedule_sla(t["reference"], now, now + interval)

            while True:
                refs = [r for r in await self.store.due_refs(now, SLA_BATCH) if r not in seen]
                if not refs:
                    break
                seen.update(refs)
                states = await self.store.tickets_state_raw(refs)
                await asyncio.gather(*(check(decode_ticket(raw) if raw else {"reference": ref})
                                       for ref, raw in zip(refs, states)))
                if not await self.store.extend_lock("sla", owner, ttl):  # a long sweep keeps its lock
                    logger.warning("sla sweep lost its lock after %d tickets; the next sweep goes on", len(seen))
                    break
        finally:
            await self.store.release_lock("sla", owner)
        return counts

    @staticmethod
    def _sla_candidates(t: dict[str, Any], now: float) -> list[str]:
        """Checks worth an atomic update according to a snapshot (each is re-checked inside it)."""
        kinds = []
        due = t.get("first_response_due")
        if due is not None and not t.get("first_response_at"):
            if not t.get("warned") and float(t.get("warn_at") or due) <= now < float(due):
                kinds.append("warn")
            if not t.get("breached") and now >= float(due):
                kinds.append("breach")
        tier_due = t.get("tier_due")
        if tier_due is not None and now >= float(tier_due) and t.get("status") != "waiting_customer":
            kinds.append("tier")
        return kinds

    async def _sla_step(self, ref: str, kind: str, now: float) -> str:
        """One SLA check of one ticket, re-evaluated inside the atomic update; returns what it did."""
        changed = ""
        matrix = self.matrix.matrix

        def decide(t: dict[str, Any]) -> Change | None:
            nonlocal changed
            if t["status"] not in OPEN_STATUSES:
                return None
            responded = bool(t.get("first_response_at"))
            due = float(t["first_response_due"])
            if kind == "warn":
                if responded or t.get("warned") or not (float(t.get("warn_at") or due) <= now < due):
                    return None
                priority = sla.raise_priority(t["priority"], 1, highest="P2" if t["priority"] != "P1" else "P1")
                changed = "warned"
                waiting = t["status"] in WAITING_STATUSES
                return Change(action="sla_warning", by=SYSTEM, reason=f"first response due in "
                              f"{max(0, round((due - now) / 60))} min; priority {t['priority']} -> {priority}",
                              fields={"warned": 1, "priority": priority},
                              queue_add=(t["queue"], sla.queue_score(priority, due)) if waiting else None,
                              event_data={"due": due, "priority": priority})
            if kind == "breach":
                if responded or t.get("breached") or now < due:
                    return None
                changed = "breached"
                return Change(action="sla_breached", by=SYSTEM, reason="first response deadline passed",
                              fields={"breached": 1}, counters=[("stats:breaches_by_queue", t["queue"], 1)],
                              event_data={"due": due, "queue": t["queue"]})
            tier_due = t.get("tier_due")
            if tier_due is None or now < float(tier_due) or t["status"] == "waiting_customer":
                return None
            if int(t["tier"]) == 1:
                target = escalation_target(matrix, t["category"], t["queue"])
                if target.name == t["queue"]:
                    return None
                changed = "escalated"
                return self._move(t, target.name, target.tier, SYSTEM,
                                  f"tier-1 limit of {sla.TIER_LIMIT_MINUTES[1]} minutes exceeded", now)
            changed = "tier_alerts"
            return Change(action="tier_limit_exceeded", by=SYSTEM,
                          reason=f"tier-{t['tier']} time limit exceeded", fields={"tier_due": ""},
                          event_data={"tier": t["tier"], "queue": t["queue"]})

        await self.store.mutate(ref, decide, now)
        return changed
