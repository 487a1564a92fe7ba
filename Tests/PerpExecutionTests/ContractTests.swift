import PerpExecution
import PerpModel
import Testing

@Suite struct ContractTests {
    @Test func terminalStatuses() {
        #expect(OrderStatus.allCases.filter(\.isTerminal) == [.filled, .cancelled, .rejected, .expired, .neverSent])
        #expect(OrderKind.allCases.filter(\.isConditional) == [.stopMarket, .takeProfitMarket])
    }
}
