import PerpExecution
import PerpMechanics
import PerpModel
import PerpSimulation

/// What a paper session's simulated venue held, read back from the session's stored inputs:
/// the venue lives in the trading process, so a restart rebuilds it from what the session
/// recorded of it (decision 0013). Every change the venue makes reaches the store as events in
/// one transaction with the answer that caused it (``SimulatedExecutionVenue/takeEvents()``),
/// so the record is the venue's whole history; a change whose answer a crash kept from the
/// store never happened, for the rebuilt venue as for the session (the request died with the
/// process, and the unresolved intent is looked up, not found, and sent again).
public struct SimulatedVenueRecord: Sendable {
    /// Distinct fills, in the order the venue made them.
    public private(set) var fills: [VenueFill] = []
    private var tradeIDs: Set<String> = []
    /// The last balance the venue reported.
    public private(set) var balance: VenueBalance?
    /// The last bar the session stored.
    public private(set) var lastBar: Candle?
    /// The largest numeric id the venue gave (orders, trades, triggered orders).
    public private(set) var largestID: Int64 = 0

    public init() {}

    /// Takes what `input` says about the venue.
    public mutating func observe(_ input: LiveInput) {
        switch input {
        case .bar(let candle, _):
            lastBar = candle
        case .execution(.venue(let event, _)):
            observe(event)
        case .execution(.submitted(_, .accepted(let order), _)), .execution(.lookedUp(_, .found(let order), _)):
            note(order)
        case .execution(.cancelAnswered(_, .cancelled(let order), _)):
            if let order { note(order) }
        case .execution(.snapshot(let snapshot, _)):
            balance = snapshot.balance
            for order in snapshot.openOrders { note(order) }
            for fill in snapshot.fills.sorted(by: { $0.time < $1.time }) { observe(.fill(fill)) }
        default:
            break
        }
    }

    private mutating func observe(_ event: VenueEvent) {
        switch event {
        case .fill(let fill):
            note(fill.tradeID)
            note(fill.venueOrderID)
            if tradeIDs.insert(fill.tradeID).inserted { fills.append(fill) }
        case .balance(let reported):
            balance = reported
        case .order(let order):
            note(order)
        case .position, .streamLost, .streamRestored:
            break
        }
    }

    private mutating func note(_ order: VenueOrder) {
        note(order.venueOrderID)
        if let triggered = order.triggeredOrderID { note(triggered) }
    }

    private mutating func note(_ id: String) {
        if let value = Int64(id), value > largestID { largestID = value }
    }
}

extension SimulatedExecutionVenue {
    /// Brings the venue back to what `record` says it held, with `openOrders` (the session's
    /// conditional orders the venue had accepted) resting again: the position is the record's
    /// fills applied in order (``Position/apply(delta:price:)``, exactly as the venue applied
    /// them), the wallet the last balance it reported, the price and clock those of the last
    /// stored bar. Funding observed but not yet settled is not kept: the trader observes a
    /// settlement only with the bar it settles at, in the same transaction.
    public func restore(_ record: SimulatedVenueRecord, openOrders: [VenueOrder]) {
        var rebuilt = Position()
        for fill in record.fills {
            // A stored fill beyond what the venue carries (a damaged file) is left out: the
            // position then differs from the session's and reconciliation halts on it.
            let delta = fill.side == .long ? fill.quantity : -fill.quantity
            let (after, overflow) = rebuilt.quantity.raw.addingReportingOverflow(delta.raw)
            guard fill.quantity.isPositive, fill.price.isPositive, !overflow, !AmountLimit.exceeded(quantity: after, price: fill.price.raw)
            else { continue }
            rebuilt.apply(delta: delta, price: fill.price)
        }
        position = rebuilt
        if let balance = record.balance { wallet = balance.wallet }
        if let bar = record.lastBar {
            price = bar.close
            volume = bar.volume
            let close = bar.openTime.adding(barInterval) ?? bar.openTime
            if close > now { now = close }
            lastObservedBar = bar.openTime
        }
        fills = record.fills
        orders = openOrders.map { order in
            var resting = order
            resting.status = .accepted
            return resting
        }
        resting = orders.indices.filter { orders[$0].kind.isConditional }
        nextID = max(nextID, record.largestID + 1)
        queued.removeAll()
        pendingFunding.removeAll()
    }
}
