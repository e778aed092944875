"""Order arithmetic on a profile's kept orders: place, cancel, refund, and fold into `Archived`.

Pure functions over immutable values: each takes the kept orders (a list sorted by time, then
order id), the archive and the pending notes, and returns new ones; the lists passed in are
never changed. Events of one order may arrive in any order: a cancellation or a refund of an
order not kept yet waits in a bounded `Pending` note and applies when the order comes.

Known limits (bounded state, stated rather than hidden): an order folded into the archive can
no longer be cancelled or refunded (a later cancellation or refund of it waits as a note until
the note is evicted), nor recognised when `order.placed` is said again under another event id;
an order arriving later than every archived order but older than the newest of them counts in
the archive without moving its gaps. With MAX_ORDERS kept orders per customer, each concerns an
order more than MAX_ORDERS orders back.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from decimal import Decimal

import msgspec

from services.segmenter.profiles.model import (
    MAX_ORDERS,
    MAX_PENDING,
    MAX_REFUND_IDS,
    Archived,
    Order,
    Pending,
    Refund,
)


@dataclass(frozen=True, slots=True)
class OrderBook:
    """The order-related fields of a profile, changed together."""

    orders: list[Order]
    archived: Archived
    pending: list[Pending]


def _sort_key(order: Order) -> tuple[float, str]:
    return order.at, order.order_id


def find(orders: list[Order], order_id: str) -> int | None:
    for index, order in enumerate(orders):
        if order.order_id == order_id:
            return index
    return None


def refund(order: Order, given: Refund) -> Order:
    """The order with the refund added once per refund id, never beyond its total. A refund in
    another currency than the order's is remembered (so it is never counted later) but adds
    nothing: the two amounts cannot be compared."""
    if given.refund_id in order.refund_ids:
        return order
    ids = (*order.refund_ids, given.refund_id)[-MAX_REFUND_IDS:]
    if given.currency != order.currency:
        return msgspec.structs.replace(order, refund_ids=ids)
    refunded = min(order.total, order.refunded + given.amount)
    return msgspec.structs.replace(order, refunded=refunded, refund_ids=ids)


def _resolve(order: Order, note: Pending) -> Order:
    for given in note.refunds:
        order = refund(order, given)
    if note.cancelled and not order.cancelled:
        order = msgspec.structs.replace(order, cancelled=True)
    return order


def archive(archived: Archived, order: Order) -> Archived:
    """The archive with one more order (a cancelled order is dropped: it counts nowhere)."""
    if order.cancelled:
        return archived
    counts = dict(archived.counts)
    counts[order.currency] = counts.get(order.currency, 0) + 1
    net = dict(archived.net)
    net[order.currency] = net.get(order.currency, Decimal(0)) + order.total - order.refunded
    first_at, first_currency = archived.first_at, archived.first_currency
    if first_at is None or order.at < first_at:
        first_at, first_currency = order.at, order.currency
    last_at, gaps = archived.last_at, archived.gaps
    if last_at is None:
        last_at = order.at
    elif order.at >= last_at:
        gaps = (*gaps, order.at - last_at)[-MAX_ORDERS:]
        last_at = order.at
    return Archived(
        count=archived.count + 1,
        counts=counts,
        net=net,
        first_at=first_at,
        first_currency=first_currency,
        last_at=last_at,
        gaps=gaps,
    )


def fold(orders: list[Order], archived: Archived) -> tuple[list[Order], Archived]:
    """Keep the newest MAX_ORDERS orders; the older ones go into the archive, oldest first."""
    if len(orders) <= MAX_ORDERS:
        return orders, archived
    extra = len(orders) - MAX_ORDERS
    for order in orders[:extra]:
        archived = archive(archived, order)
    return orders[extra:], archived


def place(book: OrderBook, order: Order) -> OrderBook | None:
    """The book with the order in its place by time (a waiting note applied); None when the
    order is known already (`order.placed` said again, e.g. on creation and on payment)."""
    if find(book.orders, order.order_id) is not None:
        return None
    pending = book.pending
    for index, note in enumerate(pending):
        if note.order_id == order.order_id:
            order = _resolve(order, note)
            pending = [*pending[:index], *pending[index + 1 :]]
            break
    archived = book.archived
    if archived.last_at is not None and order.at < archived.last_at:
        return OrderBook(book.orders, archive(archived, order), pending)  # older than kept ones
    orders = list(book.orders)
    bisect.insort(orders, order, key=_sort_key)
    orders, archived = fold(orders, archived)
    return OrderBook(orders, archived, pending)


def _note(pending: list[Pending], order_id: str, at: float, change: Pending) -> list[Pending]:
    """`pending` with `change` (a cancellation, a refund) joined to the order's note."""
    for index, note in enumerate(pending):
        if note.order_id == order_id:
            known = {r.refund_id for r in note.refunds}
            refunds = note.refunds + tuple(r for r in change.refunds if r.refund_id not in known)
            joined = Pending(
                order_id=order_id,
                at=min(note.at, at),
                cancelled=note.cancelled or change.cancelled,
                refunds=refunds[-MAX_REFUND_IDS:],
            )
            return [*pending[:index], joined, *pending[index + 1 :]]
    return [*pending, change][-MAX_PENDING:]


def cancel(book: OrderBook, order_id: str, at: float) -> OrderBook:
    index = find(book.orders, order_id)
    if index is None:
        change = Pending(order_id=order_id, at=at, cancelled=True)
        return OrderBook(book.orders, book.archived, _note(book.pending, order_id, at, change))
    order = book.orders[index]
    if order.cancelled:
        return book
    orders = list(book.orders)
    orders[index] = msgspec.structs.replace(order, cancelled=True)
    return OrderBook(orders, book.archived, book.pending)


def add_refund(book: OrderBook, order_id: str, given: Refund, at: float) -> OrderBook:
    index = find(book.orders, order_id)
    if index is None:
        change = Pending(order_id=order_id, at=at, refunds=(given,))
        return OrderBook(book.orders, book.archived, _note(book.pending, order_id, at, change))
    order = book.orders[index]
    updated = refund(order, given)
    if updated is order:
        return book
    orders = list(book.orders)
    orders[index] = updated
    return OrderBook(orders, book.archived, book.pending)


def join(mine: OrderBook, theirs: OrderBook) -> OrderBook:
    """Two customers' books as one (a visitor's joined into the customer's): orders by id
    (one known to both keeps `mine`, cancelled if either is), archives added up, notes joined
    and applied to the orders now known. Archived gaps of the two cannot be interleaved: they
    are put together."""
    book = mine
    for note in theirs.pending:
        if note.cancelled:
            book = cancel(book, note.order_id, note.at)
        for given in note.refunds:
            book = add_refund(book, note.order_id, given, note.at)
    for order in theirs.orders:
        placed = place(book, order)
        if placed is not None:
            book = placed
        elif order.cancelled:  # known to both: mine stands, but a cancellation is a fact
            book = cancel(book, order.order_id, order.at)
    return OrderBook(book.orders, _join_archives(book.archived, theirs.archived), book.pending)


def _join_archives(mine: Archived, theirs: Archived) -> Archived:
    if theirs.count == 0:
        return mine
    if mine.count == 0:
        return theirs
    counts = dict(mine.counts)
    for currency, count in theirs.counts.items():
        counts[currency] = counts.get(currency, 0) + count
    net = dict(mine.net)
    for currency, amount in theirs.net.items():
        net[currency] = net.get(currency, Decimal(0)) + amount
    first = min((a for a in (mine, theirs) if a.first_at is not None), key=_first_at)
    last_at = max(a.last_at for a in (mine, theirs) if a.last_at is not None)
    return Archived(
        count=mine.count + theirs.count,
        counts=counts,
        net=net,
        first_at=first.first_at,
        first_currency=first.first_currency,
        last_at=last_at,
        gaps=(*theirs.gaps, *mine.gaps)[-MAX_ORDERS:],
    )


def _first_at(archived: Archived) -> float:
    return archived.first_at if archived.first_at is not None else float("inf")
