import PerpExecution
import Testing

@Suite struct OrderStateMachineTests {
    @Test func everyPairAnswersWithoutTrapping() {
        var legal = 0
        for from in OrderStatus.allCases {
            for event in OrderEvent.allCases {
                for before in [nil] + OrderStatus.allCases.map(Optional.some) {
                    switch OrderStateMachine.next(from, event, beforePending: before) {
                    case .moved(let to): #expect(to != from)
                    case .unchanged: break
                    case .illegal(let sentence):
                        #expect(sentence.contains(String(from.rawValue.map { $0 == "_" ? " " : $0 })))
                        #expect(sentence.contains(String(event.rawValue.map { $0 == "_" ? " " : $0 })))
                    }
                }
                if case .moved = OrderStateMachine.next(from, event) { legal += 1 }
            }
        }
        #expect(legal > 20)
    }

    @Test(arguments: [
        // The venues' real races (reliability-anchors.md §1.1).
        (OrderStatus.pendingSubmit, OrderEvent.filled, OrderStatus.filled),
        (.pendingSubmit, .notFound, .neverSent),
        (.pendingSubmit, .accepted, .accepted),
        (.accepted, .rejected, .rejected),
        (.pendingCancel, .filled, .filled),
        (.pendingCancel, .partiallyFilled, .partiallyFilled),
        (.pendingCancel, .accepted, .accepted),
        (.pendingCancel, .cancelled, .cancelled),
        (.cancelled, .filled, .filled),
        (.expired, .filled, .filled),
        (.accepted, .cancelRequested, .pendingCancel),
        (.partiallyFilled, .filled, .filled),
    ])
    func legalMoves(_ from: OrderStatus, _ event: OrderEvent, _ to: OrderStatus) {
        #expect(OrderStateMachine.next(from, event) == .moved(to))
    }

    @Test func cancelRejectedRestoresThePendingState() {
        #expect(OrderStateMachine.next(.pendingCancel, .cancelRejected, beforePending: .partiallyFilled) == .moved(.partiallyFilled))
        #expect(OrderStateMachine.next(.pendingCancel, .cancelRejected, beforePending: .accepted) == .moved(.accepted))
        #expect(OrderStateMachine.next(.pendingCancel, .cancelRejected) == .moved(.accepted))
    }

    @Test func repeatsAreUnchangedAndTerminalsRefuse() {
        #expect(OrderStateMachine.next(.filled, .filled) == .unchanged)
        #expect(OrderStateMachine.next(.accepted, .accepted) == .unchanged)
        #expect(OrderStateMachine.next(.cancelled, .partiallyFilled) == .unchanged)
        for event in OrderEvent.allCases where event != .filled {
            if case .moved = OrderStateMachine.next(.filled, event) { Issue.record("filled moved on \(event)") }
        }
        for event in OrderEvent.allCases where event != .notFound {
            #expect({ if case .illegal = OrderStateMachine.next(.neverSent, event) { return true } else { return false } }())
        }
        for from in OrderStatus.allCases where from != .pendingSubmit && from != .neverSent {
            #expect({ if case .illegal = OrderStateMachine.next(from, .notFound) { return true } else { return false } }())
        }
    }
}
