import PerpModel

/// Something that happens to an order: a venue report, our own cancel request, a lookup's
/// definitive not-found.
public enum OrderEvent: String, Sendable, Hashable, CaseIterable {
    /// The venue has it (resting, or working).
    case accepted
    case partiallyFilled = "partially_filled"
    case filled
    /// We asked the venue to cancel it.
    case cancelRequested = "cancel_requested"
    case cancelled
    /// The venue refused the cancel: the order goes back to where it was before the request.
    case cancelRejected = "cancel_rejected"
    case rejected
    case expired
    /// A definitive not-found (Binance -2013) for an order whose submit has no answer.
    case notFound = "not_found"
}

/// The legal moves of an order's life, as one table (reliability-anchors.md §1.1, "Order state
/// machine", after NautilusTrader `OrderStatus::transition` in `crates/model/src/orders/mod.rs`;
/// reliability.md "Order state machine as a table").
///
/// It includes the venues' real races: `pendingSubmit → filled` and `pendingSubmit → cancelled`
/// (a market or IOC order never rests), `accepted → rejected`, `pendingCancel → filled` and
/// `pendingCancel → partiallyFilled` (it filled before the cancel arrived), `pendingCancel →
/// accepted` (the cancel failed), and the late fill after a cancel or an expiry (`cancelled →
/// filled`, `expired → filled`: Nautilus's "Real world possibility"). An illegal pair is an
/// answer, never a trap: the engine journals it and ignores the event (its fills still count).
public enum OrderStateMachine {
    /// What an event does to an order.
    public enum Transition: Sendable, Hashable {
        /// The order moves to this status.
        case moved(OrderStatus)
        /// Nothing changes: the event repeats the current status (a duplicate report), or a
        /// late partial fill reaches an order that stays cancelled or expired.
        case unchanged
        /// Not a legal move; the sentence names the status and the event.
        case illegal(String)
    }

    /// The move `event` makes from `from`. `cancelRejected` restores `.accepted`; use
    /// ``next(_:_:beforePending:)`` to restore the exact status before the cancel request.
    public static func next(_ from: OrderStatus, _ event: OrderEvent) -> Transition {
        next(from, event, beforePending: nil)
    }

    /// The move `event` makes from `from`; `beforePending` is the status the order had when the
    /// cancel was requested (restored by `cancelRejected`, as Nautilus's `CancelRejected`).
    public static func next(_ from: OrderStatus, _ event: OrderEvent, beforePending: OrderStatus?) -> Transition {
        guard let target = table(from, event, beforePending: beforePending) else {
            return .illegal("an order \(from.rawValue.replacingUnderscores) cannot take the event \(event.rawValue.replacingUnderscores)")
        }
        return target == from ? .unchanged : .moved(target)
    }

    /// The table: `nil` is an illegal pair.
    private static func table(_ from: OrderStatus, _ event: OrderEvent, beforePending: OrderStatus?) -> OrderStatus? {
        switch (from, event) {
        // Recorded, no answer yet.
        case (.pendingSubmit, .accepted): return .accepted
        case (.pendingSubmit, .partiallyFilled): return .partiallyFilled
        case (.pendingSubmit, .filled): return .filled
        case (.pendingSubmit, .cancelRequested): return .pendingCancel
        case (.pendingSubmit, .cancelled): return .cancelled
        case (.pendingSubmit, .rejected): return .rejected
        case (.pendingSubmit, .expired): return .expired
        case (.pendingSubmit, .notFound): return .neverSent
        // Resting or working.
        case (.accepted, .accepted): return .accepted
        case (.accepted, .partiallyFilled): return .partiallyFilled
        case (.accepted, .filled): return .filled
        case (.accepted, .cancelRequested): return .pendingCancel
        case (.accepted, .cancelled): return .cancelled
        case (.accepted, .rejected): return .rejected
        case (.accepted, .expired): return .expired
        case (.partiallyFilled, .partiallyFilled): return .partiallyFilled
        case (.partiallyFilled, .filled): return .filled
        case (.partiallyFilled, .cancelRequested): return .pendingCancel
        case (.partiallyFilled, .cancelled): return .cancelled
        case (.partiallyFilled, .expired): return .expired
        // A cancel in flight: it may still fill, or the cancel may fail.
        case (.pendingCancel, .cancelRequested): return .pendingCancel
        case (.pendingCancel, .accepted): return .accepted
        case (.pendingCancel, .partiallyFilled): return .partiallyFilled
        case (.pendingCancel, .filled): return .filled
        case (.pendingCancel, .cancelled): return .cancelled
        case (.pendingCancel, .cancelRejected):
            switch beforePending {
            case .some(.partiallyFilled): return .partiallyFilled
            default: return .accepted
            }
        case (.pendingCancel, .rejected): return .rejected
        case (.pendingCancel, .expired): return .expired
        // Terminal, except the late fill.
        case (.filled, .filled): return .filled
        case (.cancelled, .cancelled): return .cancelled
        case (.cancelled, .filled): return .filled
        case (.cancelled, .partiallyFilled): return .cancelled
        case (.expired, .expired): return .expired
        case (.expired, .filled): return .filled
        case (.expired, .partiallyFilled): return .expired
        case (.rejected, .rejected): return .rejected
        case (.neverSent, .notFound): return .neverSent
        default: return nil
        }
    }

    /// The event a venue report of `status` stands for (`nil` for the statuses only we set:
    /// `pendingSubmit`, `pendingCancel`, `neverSent`).
    public static func event(reporting status: OrderStatus) -> OrderEvent? {
        switch status {
        case .accepted: return .accepted
        case .partiallyFilled: return .partiallyFilled
        case .filled: return .filled
        case .cancelled: return .cancelled
        case .rejected: return .rejected
        case .expired: return .expired
        case .pendingSubmit, .pendingCancel, .neverSent: return nil
        }
    }
}

extension String {
    fileprivate var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}
