import PerpModel

/// The local record reconciliation compares with the venue: the engine's orders, the trades it
/// has applied, and the position those trades give.
public struct ReconcileLocal: Sendable, Hashable {
    public var orders: [OrderRecord]
    public var seenTradeIDs: Set<String>
    /// Signed, from applied fills only.
    public var position: Quantity

    public init(orders: [OrderRecord], seenTradeIDs: Set<String>, position: Quantity) {
        self.orders = orders
        self.seenTradeIDs = seenTradeIDs
        self.position = position
    }
}

/// One thing reconciliation found, in the order the engine applies them.
public enum ReconcileStep: Sendable, Hashable {
    /// A venue trade the local record has not applied (a lost stream event, a crash).
    case missedFill(VenueFill)
    /// An open order whose client id is ours (this session's tag): take the venue's state.
    case adopt(VenueOrder)
    /// One of our orders that is not terminal locally and not open at the venue: ask for it.
    case lookup(clientID: String, kind: OrderKind)
    /// An open order that is not ours (another system's, another session's): cancel it.
    case cancelForeign(VenueOrder)
    /// After the missed fills, the positions agree within one lot.
    case positionMatches(venue: Quantity, local: Quantity)
    /// After the missed fills, the positions differ by more than one lot: halt.
    case positionMismatch(venue: Quantity, local: Quantity)
    /// A position is open: make sure its stop and target rest on the venue.
    case ensureProtection
}

/// Reconciliation as a pure function (decision 0012, §4; reliability-anchors.md §1.1,
/// "Startup reconciliation": record missing fills, align order state, compare the net position,
/// and never trade on a mismatch).
public enum Reconciler {
    /// The steps that bring `local` in line with `venue`: missed fills (deduplicated by trade
    /// id, oldest first), adoption of our open orders, lookups for ours the venue does not list,
    /// cancels for open orders that are not ours (``ClientOrderID/parse(_:)`` fails or the tag is
    /// not `tag`), then the position check: a difference beyond one lot (`rules.lotSize`) after
    /// the missed fills is a mismatch; otherwise, when a position is open, ``ReconcileStep/ensureProtection``.
    /// `venue` must be a complete snapshot: a failed position query is never "flat" (the shell
    /// sends no snapshot at all then).
    public static func reconcile(local: ReconcileLocal, venue: VenueSnapshot, rules: MarketRules, tag: String) -> [ReconcileStep] {
        var steps: [ReconcileStep] = []
        var seen = local.seenTradeIDs
        var expected: Quantity? = local.position
        for fill in venue.fills where !seen.contains(fill.tradeID) {
            seen.insert(fill.tradeID)
            steps.append(.missedFill(fill))
            guard fill.quantity.isPositive, let current = expected else { continue }
            let signed = fill.side == .long ? fill.quantity : -fill.quantity
            expected = try? current.adding(signed, "the reconciled position")
        }
        var listed = Set<String>()
        for order in venue.openOrders where !listed.contains(order.clientID) {
            listed.insert(order.clientID)
            if let parsed = ClientOrderID.parse(order.clientID), parsed.tag == tag {
                steps.append(.adopt(order))
            } else {
                steps.append(.cancelForeign(order))
            }
        }
        for order in local.orders where !order.status.isTerminal && !listed.contains(order.clientID) {
            steps.append(.lookup(clientID: order.clientID, kind: order.intent.kind))
        }
        let venueQuantity = venue.position.quantity
        guard let local = expected else {
            steps.append(.positionMismatch(venue: venueQuantity, local: local.position))
            return steps
        }
        let tolerance = rules.lotSize.isPositive ? rules.lotSize : .zero
        let difference = try? venueQuantity.subtracting(local, "the position difference")
        if let difference, difference.raw != .min, difference.magnitude <= tolerance {
            steps.append(.positionMatches(venue: venueQuantity, local: local))
            if !venueQuantity.isZero { steps.append(.ensureProtection) }
        } else {
            steps.append(.positionMismatch(venue: venueQuantity, local: local))
        }
        return steps
    }
}
