"""The checks of the order validation pipeline, without Odoo.

Each check takes plain figures gathered in batch by the model and answers a ``Finding``: whether the
order passes, a reason code, a message in plain words for the salesperson, and the values it saw.
"""

from dataclasses import dataclass
from dataclasses import field
from datetime import timedelta


@dataclass
class Finding:
    passed: bool
    reason: str
    message: str = ""
    values: dict = field(default_factory=dict)


def credit_limit(limit, receivable, to_invoice, order_amount, currency="", enabled=True):
    """Receivables + confirmed orders not invoiced + this order against the credit limit.

    >>> credit_limit(10000, 6000, 2000, 1500).passed
    True
    >>> f = credit_limit(10000, 6000, 2000, 2500, currency="EUR")
    >>> f.passed, f.reason, f.values["exposure"], f.values["over_by"]
    (False, 'credit_limit', 10500, 500)
    >>> credit_limit(0, 6000, 2000, 99999).passed   # no limit set
    True
    """
    exposure = round(receivable + to_invoice + order_amount, 2)
    values = {
        "limit": limit,
        "receivable": receivable,
        "to_invoice": to_invoice,
        "order_amount": order_amount,
        "exposure": exposure,
        "over_by": round(max(exposure - limit, 0.0), 2),
    }
    if not enabled or not limit or limit <= 0 or exposure <= limit:
        return Finding(True, "credit_ok", values=values)
    return Finding(
        False,
        "credit_limit",
        (
            f"Credit limit exceeded: open receivables {receivable:,.2f} + orders not invoiced {to_invoice:,.2f} "
            f"+ this order {order_amount:,.2f} = {exposure:,.2f} {currency}, over the limit of {limit:,.2f} by "
            f"{values['over_by']:,.2f}. Ask the customer for a payment or a credit manager for an exception."
        ).replace(" ,", ","),
        values,
    )


def stock_availability(
    demand, free_here, free_elsewhere, warehouse_names, policy="propose", backorder_policy="ship_partial"
):
    """Demand per product against free stock in the order's warehouse; when short, a proposal.

    ``demand``: {product: qty}; ``free_here``: {product: qty}; ``free_elsewhere``: {warehouse: {product: qty}}.
    The proposal is one of: 'alternate_warehouse' (one other warehouse covers every short line),
    'partial' (ship what is here, backorder the rest, when the customer accepts partial deliveries),
    'wait' (the customer wants complete deliveries), 'ask' (the customer wants to be asked),
    'procure' (no warehouse has enough).

    >>> f = stock_availability({"A": 5, "B": 2}, {"A": 5, "B": 0}, {"WH2": {"A": 9, "B": 3}}, {"WH2": "East"})
    >>> f.passed, f.values["proposal"], f.values["alternate_warehouse"], f.values["shortages"]
    (False, 'alternate_warehouse', 'WH2', {'B': 2})
    >>> stock_availability({"A": 1}, {"A": 4}, {}, {}).passed
    True
    >>> stock_availability({"A": 3}, {"A": 1}, {"WH2": {"A": 1}}, {"WH2": "East"}).values["proposal"]
    'partial'
    >>> stock_availability({"A": 3}, {}, {}, {}, backorder_policy="ship_complete").values["proposal"]
    'procure'
    """
    shortages = {
        p: round(q - max(free_here.get(p, 0.0), 0.0), 4)
        for p, q in demand.items()
        if q > max(free_here.get(p, 0.0), 0.0) + 1e-9
    }
    values = {
        "demand": demand,
        "free_here": {p: free_here.get(p, 0.0) for p in demand},
        "shortages": shortages,
        "alternate_warehouse": None,
        "proposal": None,
        "policy": policy,
    }
    if not shortages:
        return Finding(True, "stock_ok", values=values)
    covering = [wh for wh, stock in free_elsewhere.items() if all(stock.get(p, 0.0) >= q for p, q in demand.items())]
    # Products that not even all warehouses together can supply: to be replenished.
    to_procure = sorted(
        p
        for p, q in demand.items()
        if max(free_here.get(p, 0.0), 0.0) + sum(max(s.get(p, 0.0), 0.0) for s in free_elsewhere.values()) + 1e-9 < q
    )
    values["to_procure"] = to_procure
    if covering:
        best = max(covering, key=lambda wh: sum(free_elsewhere[wh].get(p, 0.0) for p in demand))
        values.update(alternate_warehouse=best, proposal="alternate_warehouse")
        text = f"ship the whole order from {warehouse_names.get(best, best)}, which has everything in stock"
    elif not any(free_here.get(p, 0.0) > 0 for p in demand):
        values["proposal"] = "procure"
        text = "nothing can ship from here: replenish (purchase or transfer) before promising a date"
    elif backorder_policy == "ship_partial":
        values["proposal"] = "partial"
        text = "ship what is in stock now and deliver the rest as a backorder (the customer accepts partial deliveries)"
    elif backorder_policy == "ship_complete":
        values["proposal"] = "wait"
        text = "wait for the missing quantities: the customer wants complete deliveries"
    else:
        values["proposal"] = "ask"
        text = "ask the customer whether to ship partially: their backorder policy is to be asked"
    if to_procure and values["proposal"] != "procure":
        text += f"; replenish {', '.join(map(str, to_procure))}"
    short_list = ", ".join(f"{p}: {q:g} short" for p, q in shortages.items())
    return Finding(
        False, "stock_shortage", f"Not enough free stock in this warehouse ({short_list}). Proposal: {text}.", values
    )


def margin_floor(lines, floor_pct):
    """Order margin (sales minus cost over sales, of the lines the rule covers) against a floor.

    ``lines``: [(subtotal, cost)].

    >>> margin_floor([(100, 70), (100, 90)], 20).passed   # 20 % margin
    True
    >>> f = margin_floor([(100, 95)], 10)
    >>> f.passed, f.values["margin_pct"]
    (False, 5.0)
    """
    sales = sum(s for s, _c in lines)
    cost = sum(c for _s, c in lines)
    margin = round(100.0 * (sales - cost) / sales, 2) if sales else 0.0
    values = {"sales": round(sales, 2), "cost": round(cost, 2), "margin_pct": margin, "floor_pct": floor_pct}
    if not lines or margin >= floor_pct:
        return Finding(True, "margin_ok", values=values)
    return Finding(
        False,
        "margin_floor",
        (f"Margin {margin:g} % is under the floor of {floor_pct:g} %: raise the prices or get a pricing approval."),
        values,
    )


def discount_ceiling(lines, ceiling_pct):
    """Line discounts against a ceiling. ``lines``: [(label, discount %)].

    >>> discount_ceiling([("A", 5), ("B", 10)], 10).passed
    True
    >>> discount_ceiling([("A", 5), ("B", 12.5)], 10).values["over"]
    {'B': 12.5}
    """
    over = {label: d for label, d in lines if d > ceiling_pct + 1e-9}
    values = {"ceiling_pct": ceiling_pct, "over": over}
    if not over:
        return Finding(True, "discount_ok", values=values)
    detail = ", ".join(f"{label} {d:g} %" for label, d in over.items())
    return Finding(
        False,
        "discount_ceiling",
        f"Discount over the ceiling of {ceiling_pct:g} % ({detail}): reduce it or get a discount approval.",
        values,
    )


def price_below_pricelist(lines, tolerance_pct=0.0):
    """Unit prices against the pricelist. ``lines``: [(label, price, pricelist price)].

    >>> price_below_pricelist([("A", 9.5, 10.0)], tolerance_pct=5).passed
    True
    >>> price_below_pricelist([("A", 9.0, 10.0)], tolerance_pct=5).values["below"]
    {'A': [9.0, 10.0]}
    """
    below = {
        label: [price, list_price]
        for label, price, list_price in lines
        if list_price and price < list_price * (1 - tolerance_pct / 100.0) - 1e-9
    }
    values = {"tolerance_pct": tolerance_pct, "below": below}
    if not below:
        return Finding(True, "price_ok", values=values)
    detail = ", ".join(f"{label} at {p:g} instead of {lp:g}" for label, (p, lp) in below.items())
    return Finding(
        False,
        "price_below_pricelist",
        f"Prices under the pricelist ({detail}): use the pricelist price or get a price approval.",
        values,
    )


def earliest_date(now, lines, security_lead_days=0.0, purchase_lead_days=0.0):
    """Earliest possible delivery: stock on hand ships after the customer lead time; missing stock
    waits for the supplier lead time plus the receipt time first.

    ``lines``: [(in_stock: bool, customer_lead_days, supplier_lead_days)].

    >>> from datetime import datetime
    >>> now = datetime(2026, 12, 1, 8, 0)
    >>> earliest_date(now, [(True, 2, 0), (False, 1, 10)], security_lead_days=1, purchase_lead_days=2)
    datetime.datetime(2026, 12, 15, 8, 0)
    """
    days = 0.0
    for in_stock, customer_lead, supplier_lead in lines:
        line_days = customer_lead + security_lead_days
        if not in_stock:
            line_days += supplier_lead + purchase_lead_days
        days = max(days, line_days)
    return now + timedelta(days=days)


def date_feasibility(requested, earliest):
    """The requested (committed) date against the earliest possible one.

    >>> from datetime import datetime
    >>> date_feasibility(datetime(2026, 12, 20), datetime(2026, 12, 15)).passed
    True
    >>> date_feasibility(datetime(2026, 12, 10), datetime(2026, 12, 15)).values["late_by_days"]
    5.0
    """
    values = {"requested": requested and requested.isoformat(sep=" "), "earliest": earliest.isoformat(sep=" ")}
    if not requested or requested >= earliest:
        return Finding(True, "date_ok", values=values)
    late = round((earliest - requested).total_seconds() / 86400.0, 1)
    values["late_by_days"] = late
    return Finding(
        False,
        "date_infeasible",
        (
            f"The promised date {requested:%Y-%m-%d} cannot be met: the earliest possible delivery is "
            f"{earliest:%Y-%m-%d} ({late:g} days later). Agree a new date with the customer."
        ),
        values,
    )


def rush_shipment(requested, now, rush_hours):
    """A promise closer than ``rush_hours``: the warehouse must be told.

    >>> from datetime import datetime
    >>> rush_shipment(datetime(2026, 12, 1, 12), datetime(2026, 12, 1, 8), 24).passed
    False
    >>> rush_shipment(None, datetime(2026, 12, 1, 8), 24).passed
    True
    """
    values = {"requested": requested and requested.isoformat(sep=" "), "rush_hours": rush_hours}
    if not requested:
        return Finding(True, "not_rush", values=values)
    hours = (requested - now).total_seconds() / 3600.0
    values["hours_left"] = round(hours, 1)
    if hours >= rush_hours:
        return Finding(True, "not_rush", values=values)
    return Finding(
        False,
        "rush_shipment",
        (f"Rush order: promised in {hours:g} hours (under {rush_hours:g}). The warehouse must ship it first."),
        values,
    )


def rush_margin(goods, delivery, shipping_cost, floor_pct):
    """The margin of an order shipped in a rush, before and after what the rush costs, against a floor.

    ``goods``: [(subtotal, cost)] of the lines the rule covers (discounts are in the subtotals);
    ``delivery``: [(subtotal, cost)] of the delivery lines (what the customer pays for the shipping, what
    it costs); ``shipping_cost``: the shipping cost recorded on the urgent deliveries besides. The finding
    fails when the margin after the rush is under the floor; its values add the margin before the rush and
    the rush cost. An order without goods passes: it has no margin to erode.

    >>> f = rush_margin([(100, 60)], [(0, 30)], 0, 15)   # a free express shipment costing 30
    >>> f.passed, f.values["margin_pct"], f.values["margin_before_rush_pct"], f.values["rush_cost"]
    (False, 10.0, 40.0, 30.0)
    >>> rush_margin([(100, 60)], [(30, 30)], 0, 15).passed   # the customer pays the shipping
    True
    >>> rush_margin([(70, 60)], [], 0, 15).values["margin_pct"]   # a 30 % discount on a 40 % margin
    14.29
    >>> rush_margin([], [(0, 30)], 0, 15).passed
    True
    """
    before = margin_floor(goods, floor_pct)
    extra = [(0.0, shipping_cost)] if shipping_cost else []
    after = margin_floor([*goods, *delivery, *extra], floor_pct) if goods else before
    after.values.update(
        margin_before_rush_pct=before.values["margin_pct"],
        rush_cost=round(sum((c for _s, c in delivery), 0.0) + (shipping_cost or 0.0), 2),
        rush_charged=round(sum((s for s, _c in delivery), 0.0), 2),
    )
    if not after.passed:
        after.reason = "rush_margin_erosion"
    return after


def rush_margin_patterns(orders, min_orders):
    """The groups (a customer and a month) with at least ``min_orders`` orders under their floor after the
    rush. ``orders``: [(group, order, finding of rush_margin)]. Answers {group: [order, ...]}.

    >>> fail, ok = rush_margin([(70, 60)], [], 0, 15), rush_margin([(100, 60)], [], 0, 15)
    >>> rush_margin_patterns([("A", 1, fail), ("A", 2, fail), ("A", 3, ok), ("B", 4, fail)], 2)
    {'A': [1, 2]}
    """
    under = {}
    for group, order, finding in orders:
        if not finding.passed:
            under.setdefault(group, []).append(order)
    return {group: found for group, found in under.items() if len(found) >= max(min_orders, 1)}


def summarize(findings_by_outcome):
    """Validation status of an order from the outcomes of its failing checks.

    >>> summarize({"hold": 1, "warn": 2}), summarize({"warn": 1}), summarize({"note": 3}), summarize({})
    ('on_hold', 'warning', 'validated', 'validated')
    """
    if findings_by_outcome.get("hold"):
        return "on_hold"
    if findings_by_outcome.get("warn"):
        return "warning"
    return "validated"
