import PerpEngine
import PerpModel
import PerpSimulation
import Testing

/// Uniform in [0, 1) from the seeded generator (53 random bits).
func uniform(_ generator: inout SplitMix64) -> Double { Double(generator.next() >> 11) * 0x1p-53 }

/// Rows drawn from a known logistic model: `x₁, x₂ ~ U(−2, 2)`, `P(up) = σ(b + w·x)`.
func logisticSample(count: Int, weights: [Double], intercept: Double, seed: UInt64) -> (FeatureMatrix, [Bool]) {
    var generator = SplitMix64(seed: seed)
    var matrix = FeatureMatrix(names: (0..<weights.count).map { "x\($0 + 1)" })
    var labels: [Bool] = []
    for _ in 0..<count {
        let row = weights.map { _ in uniform(&generator) * 4 - 2 }
        var eta = intercept
        for (w, x) in zip(weights, row) { eta += w * x }
        matrix.append(row)
        labels.append(uniform(&generator) < Logistic.sigmoid(eta))
    }
    return (matrix, labels)
}

/// An hourly random walk with some momentum, valid OHLC, from a seed.
func syntheticSeries(bars: Int, seed: UInt64, start: Int64 = 1_704_067_200_000, interval: Int64 = 3_600_000) -> CandleSeries {
    var generator = SplitMix64(seed: seed)
    var series = CandleSeries()
    var price = 10.0
    var drift = 0.0
    for index in 0..<bars {
        drift = 0.9 * drift + 0.002 * (uniform(&generator) * 2 - 1)
        let next = max(0.5, price * (1 + drift + 0.012 * (uniform(&generator) * 2 - 1)))
        let high = max(price, next) * (1 + 0.003 * uniform(&generator))
        let low = min(price, next) * (1 - 0.003 * uniform(&generator))
        func raw(_ value: Double) -> Price { Price(raw: Int64((value * 1e4).rounded()) * 10_000) }
        series.append(
            Candle(
                openTime: Timestamp(milliseconds: start + Int64(index) * interval), open: raw(price), high: raw(high), low: raw(low),
                close: raw(next), volume: Quantity(1000)))
        price = next
    }
    return series
}

@Suite struct LogisticRegressionTests {
    @Test func recoversKnownCoefficientsDeterministically() throws {
        let (matrix, labels) = logisticSample(count: 20_000, weights: [1.5, -2.0], intercept: 0.5, seed: 7)
        var options = LogisticRegression.Options()
        options.l2 = 0
        let model = try LogisticRegression.train(matrix, labels: labels, options: options)
        #expect(model.converged)
        let raw = model.rawCoefficients
        #expect(abs(raw.weights[0] - 1.5) < 0.1, "\(raw)")
        #expect(abs(raw.weights[1] + 2.0) < 0.1, "\(raw)")
        #expect(abs(raw.intercept - 0.5) < 0.1, "\(raw)")
        // Same data, same bits.
        #expect(try LogisticRegression.train(matrix, labels: labels, options: options) == model)
        // The ridge shrinks the weights toward zero.
        var ridge = options
        ridge.l2 = 1
        let shrunk = try LogisticRegression.train(matrix, labels: labels, options: ridge)
        #expect(abs(shrunk.weights[0]) < abs(model.weights[0]) && abs(shrunk.weights[1]) < abs(model.weights[1]))
    }

    @Test func separableDataGivesFiniteWeightsAndPerfectFit() throws {
        var matrix = FeatureMatrix(names: ["x"])
        var labels: [Bool] = []
        for index in 0..<200 {
            let x = Double(index) / 10 - 10
            matrix.append([x])
            labels.append(x > 0.05)
        }
        let model = try LogisticRegression.train(matrix, labels: labels)
        #expect(model.weights.allSatisfy { $0.isFinite } && model.intercept.isFinite)
        #expect(model.converged)
        #expect(model.weights[0] > 0)
        for index in 0..<matrix.count { #expect((model.probability(matrix, row: index) > 0.5) == labels[index]) }
    }

    @Test func noisyDataStaysNearTheBaseRate() throws {
        // Labels independent of the feature: the fitted weight is small, p near the base rate.
        var generator = SplitMix64(seed: 11)
        var matrix = FeatureMatrix(names: ["noise"])
        var labels: [Bool] = []
        for _ in 0..<5_000 {
            matrix.append([uniform(&generator)])
            labels.append(uniform(&generator) < 0.3)
        }
        let model = try LogisticRegression.train(matrix, labels: labels)
        #expect(abs(model.weights[0]) < 0.1)
        #expect(abs(model.probability([0.5]) - model.upRate) < 0.03)
    }

    @Test func missingAndConstantFeaturesAreHandled() throws {
        var (matrix, labels) = logisticSample(count: 2_000, weights: [2.0], intercept: 0, seed: 3)
        // Add a constant column and one missing in every other row.
        var wide = FeatureMatrix(names: ["x", "constant", "sometimes"])
        for index in 0..<matrix.count {
            wide.append([matrix[index, 0], 4.0, index % 2 == 0 ? matrix[index, 0] : nil])
        }
        matrix = wide
        let model = try LogisticRegression.train(matrix, labels: labels)
        #expect(model.scales[1] == 0 && model.weights[1] == 0, "a constant feature is left out")
        #expect(model.weights.allSatisfy { $0.isFinite })
        // A row with everything missing scores the intercept alone.
        #expect(model.probability([nil, nil, nil]) == Logistic.sigmoid(model.intercept))
        #expect(model.probability([1, nil, nil]).isFinite)
    }

    @Test func degenerateInputsAreTypedErrors() {
        func error(_ body: () throws(ModelError) -> LogisticRegression) -> ModelError? {
            do {
                _ = try body()
                return nil
            } catch { return error }
        }
        var few = FeatureMatrix(names: ["x"])
        for index in 0..<10 { few.append([Double(index)]) }
        #expect(
            error { () throws(ModelError) in try LogisticRegression.train(few, labels: (0..<10).map { $0 > 4 }) }
                == .tooFewRows(have: 10, need: 100))
        var many = FeatureMatrix(names: ["x"])
        for index in 0..<200 { many.append([Double(index)]) }
        #expect(
            error { () throws(ModelError) in try LogisticRegression.train(many, labels: Array(repeating: true, count: 200)) }
                == .oneClass(up: true, rows: 200))
        var flat = FeatureMatrix(names: ["x", "y"])
        for _ in 0..<200 { flat.append([1, nil]) }
        #expect(
            error { () throws(ModelError) in try LogisticRegression.train(flat, labels: (0..<200).map { $0 % 2 == 0 }) } == .noUsableFeature
        )
        #expect(error { () throws(ModelError) in try LogisticRegression.train(many, labels: [true]) } == .badInput("200 rows but 1 labels"))
    }

    @Test(arguments: [-1000.0, -40, -1, 0, 1, 40, 1000])
    func sigmoidAndLossAreStable(eta: Double) {
        let p = Logistic.sigmoid(eta)
        #expect(p >= 0 && p <= 1 && p.isFinite)
        #expect(abs(p + Logistic.sigmoid(-eta) - 1) < 1e-15)
        let up = Logistic.logLoss(eta: eta, up: true)
        let down = Logistic.logLoss(eta: eta, up: false)
        #expect(up.isFinite && down.isFinite && up >= 0 && down >= 0)
        // −log σ(η) for up and −log(1 − σ(η)) for down, exactly linear far out.
        if eta == 1000 { #expect(down == 1000 && up < 1e-300) }
        if eta == -1000 { #expect(up == 1000) }
        if eta == 0 { #expect(abs(up - 0.693_147_180_559_945_3) < 1e-15) }
    }
}
