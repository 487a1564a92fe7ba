import PerpModel

/// Why a model could not be trained. A fold that gets one of these trades nothing in the model
/// variants (the kernel is never handed a model made of NaNs).
public enum ModelError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Fewer labelled rows than the learner needs.
    case tooFewRows(have: Int, need: Int)
    /// Every training label is the same: there is nothing to separate.
    case oneClass(up: Bool, rows: Int)
    /// No feature varies in the training rows (all missing or constant).
    case noUsableFeature
    /// Rows and labels differ in count, a value is infinite, or an option is out of range.
    case badInput(String)
    /// The Newton system could not be solved (should not happen with `l2 > 0`).
    case numerical(String)

    public var description: String {
        switch self {
        case .tooFewRows(let have, let need): return "too few labelled training rows (\(have); the learner needs at least \(need))"
        case .oneClass(let up, let rows): return "all \(rows) training labels are \(up ? "up" : "down"); nothing to learn"
        case .noUsableFeature: return "no feature varies in the training rows (all missing or constant)"
        case .badInput(let text): return "bad training input: \(text)"
        case .numerical(let text): return "numerical failure: \(text)"
        }
    }
}

/// Rows of features, row-major, with `nan` marking a missing value (a signal without data).
/// Equality treats two missing values as equal.
public struct FeatureMatrix: Sendable, Equatable, CustomStringConvertible {
    public let names: [String]
    public private(set) var values: [Double] = []

    public init(names: [String]) {
        precondition(!names.isEmpty, "a feature matrix needs at least one column")
        self.names = names
    }

    public var width: Int { names.count }
    public var count: Int { values.count / names.count }

    /// Appends a row; `nil` is a missing value.
    public mutating func append(_ row: [Double?]) {
        precondition(row.count == width, "row has \(row.count) values for \(width) columns")
        for value in row { values.append(value ?? .nan) }
    }

    /// Appends row `index` of `other` (same columns).
    public mutating func append(rowOf other: FeatureMatrix, _ index: Int) {
        precondition(other.width == width, "matrices differ in width")
        values.append(contentsOf: other.values[index * width..<(index + 1) * width])
    }

    /// The value at (`row`, `column`), `nil` when missing.
    public subscript(row: Int, column: Int) -> Double? {
        let value = values[row * width + column]
        return value.isNaN ? nil : value
    }

    /// Row `index` with missing values as `nil`.
    public func row(_ index: Int) -> [Double?] { (0..<width).map { self[index, $0] } }

    public static func == (lhs: FeatureMatrix, rhs: FeatureMatrix) -> Bool {
        lhs.names == rhs.names && lhs.values.count == rhs.values.count
            && zip(lhs.values, rhs.values).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
    }

    public var description: String { "FeatureMatrix(\(count) rows × \(names.joined(separator: ", ")))" }
}

/// L2-regularised logistic regression (the standard model: `P(up | x) = σ(b + w·z)`, `z` the
/// features standardised with the training rows' mean and deviation), fitted by Newton's method
/// (iteratively reweighted least squares) with a backtracking line search. Deterministic: no
/// randomness, a fixed iteration order, and the same bits on every platform (``ElementaryMath``).
///
/// Objective (Hastie, Tibshirani & Friedman, *The Elements of Statistical Learning*, §4.4, with
/// a ridge penalty on the weights but not the intercept):
/// `L(b, w) = (1/n) Σ [softplus(ηᵢ) − yᵢ ηᵢ] + (λ/2) ‖w‖²`, `ηᵢ = b + w·zᵢ`, `softplus(η) = log(1 + e^η)`.
/// Newton step: `H Δ = g` with `g = (1/n) Zᵀ(p − y) + λ w̃`, `H = (1/n) Zᵀ diag(p(1 − p)) Z + λ Ĩ`
/// (`w̃`, `Ĩ` with the intercept's entry zero), solved by Cholesky.
///
/// Missing values: a missing feature standardises to 0, i.e. it is imputed at the training mean
/// and adds nothing to `η`. A feature missing or constant in every training row is left out
/// (weight 0). It scores direction; it never sizes positions (spec §4).
public struct LogisticRegression: Sendable, Equatable {
    public struct Options: Sendable, Equatable {
        /// Ridge penalty λ on the standardised weights (0 allowed: plain maximum likelihood,
        /// which diverges on separable data and then stops at `maxIterations`).
        public var l2 = 0.01
        public var maxIterations = 50
        /// Converged when the largest gradient component is below this (or when the Newton
        /// decrement falls below the loss's floating-point resolution).
        public var tolerance = 1e-9
        /// Fewer labelled rows than this: ``ModelError/tooFewRows(have:need:)``.
        public var minimumRows = 100
        public init() {}
    }

    public let featureNames: [String]
    /// Training mean of each feature (over the rows where it is present).
    public let means: [Double]
    /// Training population standard deviation of each feature; 0 marks a feature left out.
    public let scales: [Double]
    /// Weights on the standardised features (0 for features left out).
    public let weights: [Double]
    public let intercept: Double
    public let iterations: Int
    public let converged: Bool
    public let trainingRows: Int
    /// Share of training labels that are up.
    public let upRate: Double

    /// `η = b + Σ wⱼ (xⱼ − μⱼ)/σⱼ`, a missing `xⱼ` (nil or nan) adding nothing.
    public func linear(_ features: [Double?]) -> Double {
        precondition(features.count == weights.count, "expected \(weights.count) features, got \(features.count)")
        var eta = intercept
        for index in 0..<weights.count where scales[index] > 0 {
            if let value = features[index], !value.isNaN { eta += weights[index] * (value - means[index]) / scales[index] }
        }
        return eta
    }

    /// `η` for row `row` of `matrix` (same columns as training).
    public func linear(_ matrix: FeatureMatrix, row: Int) -> Double {
        var eta = intercept
        let base = row * matrix.width
        for index in 0..<weights.count where scales[index] > 0 {
            let value = matrix.values[base + index]
            if !value.isNaN { eta += weights[index] * (value - means[index]) / scales[index] }
        }
        return eta
    }

    /// `P(up) = σ(η)`.
    public func probability(_ features: [Double?]) -> Double { Logistic.sigmoid(linear(features)) }

    /// `P(up)` for row `row` of `matrix`.
    public func probability(_ matrix: FeatureMatrix, row: Int) -> Double { Logistic.sigmoid(linear(matrix, row: row)) }

    /// The coefficients on the raw (unstandardised) features: `wⱼ/σⱼ`, and the intercept
    /// `b − Σ wⱼ μⱼ/σⱼ`. Equal to the model for rows with no missing values.
    public var rawCoefficients: (weights: [Double], intercept: Double) {
        var raw = [Double](repeating: 0, count: weights.count)
        var b = intercept
        for index in 0..<weights.count where scales[index] > 0 {
            raw[index] = weights[index] / scales[index]
            b -= weights[index] * means[index] / scales[index]
        }
        return (raw, b)
    }

    /// Fits the model to `features` (one row per label; `true` = up).
    public static func train(_ features: FeatureMatrix, labels: [Bool], options: Options = Options()) throws(ModelError)
        -> LogisticRegression
    {
        let n = features.count
        let width = features.width
        guard labels.count == n else { throw .badInput("\(n) rows but \(labels.count) labels") }
        guard options.l2 >= 0, options.l2.isFinite else { throw .badInput("l2 must be zero or more (got \(options.l2))") }
        guard options.maxIterations >= 1 else { throw .badInput("maxIterations must be at least 1") }
        guard n >= max(options.minimumRows, 2) else { throw .tooFewRows(have: n, need: max(options.minimumRows, 2)) }
        guard !features.values.contains(where: { $0.isInfinite }) else { throw .badInput("a feature value is infinite") }
        let ups = labels.reduce(0) { $0 + ($1 ? 1 : 0) }
        if ups == 0 || ups == n { throw .oneClass(up: ups == n, rows: n) }

        // Standardisation from the training rows only.
        var means = [Double](repeating: 0, count: width)
        var scales = [Double](repeating: 0, count: width)
        for column in 0..<width {
            var count = 0.0
            var sum = 0.0
            for row in 0..<n {
                let value = features.values[row * width + column]
                if !value.isNaN {
                    count += 1
                    sum += value
                }
            }
            guard count >= 2 else { continue }
            let mean = sum / count
            var squares = 0.0
            for row in 0..<n {
                let value = features.values[row * width + column]
                if !value.isNaN { squares += (value - mean) * (value - mean) }
            }
            let deviation = (squares / count).squareRoot()
            means[column] = mean
            if deviation > 1e-12 * max(1, abs(mean)) { scales[column] = deviation }
        }
        let active = (0..<width).filter { scales[$0] > 0 }
        guard !active.isEmpty else { throw .noUsableFeature }

        // Design matrix Z: a column of ones, then the standardised active features (missing → 0).
        let d = active.count + 1
        var z = [Double](repeating: 0, count: n * d)
        for row in 0..<n {
            z[row * d] = 1
            for (k, column) in active.enumerated() {
                let value = features.values[row * width + column]
                z[row * d + k + 1] = value.isNaN ? 0 : (value - means[column]) / scales[column]
            }
        }
        let y = labels.map { $0 ? 1.0 : 0.0 }
        let lambda = options.l2
        let upRate = Double(ups) / Double(n)
        var beta = [Double](repeating: 0, count: d)
        beta[0] = ElementaryMath.log(upRate / (1 - upRate))

        func objective(_ beta: [Double]) -> Double {
            var loss = 0.0
            z.withUnsafeBufferPointer { z in
                beta.withUnsafeBufferPointer { beta in
                    for row in 0..<n {
                        var eta = 0.0
                        for k in 0..<d { eta += z[row * d + k] * beta[k] }
                        loss += Logistic.softplus(eta) - y[row] * eta
                    }
                }
            }
            var penalty = 0.0
            for k in 1..<d { penalty += beta[k] * beta[k] }
            return loss / Double(n) + lambda / 2 * penalty
        }

        var loss = objective(beta)
        var iterations = 0
        var converged = false
        while iterations < options.maxIterations {
            iterations += 1
            var gradient = [Double](repeating: 0, count: d)
            var hessian = [Double](repeating: 0, count: d * d)
            // The hot loop of the fit (n × d² multiply-adds), on raw buffers.
            z.withUnsafeBufferPointer { z in
                gradient.withUnsafeMutableBufferPointer { gradient in
                    hessian.withUnsafeMutableBufferPointer { hessian in
                        for row in 0..<n {
                            var eta = 0.0
                            for k in 0..<d { eta += z[row * d + k] * beta[k] }
                            let p = Logistic.sigmoid(eta)
                            let residual = p - y[row]
                            let weight = p * (1 - p)
                            for a in 0..<d {
                                let za = z[row * d + a]
                                gradient[a] += residual * za
                                let wa = weight * za
                                for b in 0...a { hessian[a * d + b] += wa * z[row * d + b] }
                            }
                        }
                    }
                }
            }
            let scale = 1 / Double(n)
            for a in 0..<d {
                gradient[a] = gradient[a] * scale + (a > 0 ? lambda * beta[a] : 0)
                for b in 0...a {
                    hessian[a * d + b] *= scale
                    hessian[b * d + a] = hessian[a * d + b]
                }
                hessian[a * d + a] += a > 0 ? lambda : 1e-12
            }
            if gradient.reduce(0, { max($0, abs($1)) }) < options.tolerance {
                converged = true
                break
            }
            guard let step = Cholesky.solve(hessian, gradient, size: d) else {
                throw .numerical("the Hessian is not positive definite at iteration \(iterations)")
            }
            // Newton decrement gᵀH⁻¹g / 2 (Boyd & Vandenberghe, *Convex Optimization*, §9.5.1):
            // the decrease a full step promises. Below the loss's floating-point resolution there is
            // nothing left to gain.
            let slope = zip(gradient, step).reduce(0) { $0 + $1.0 * $1.1 }
            if slope / 2 <= 1e-15 * max(1, loss) {
                converged = true
                break
            }
            // Backtracking (Armijo) line search: halve until the objective falls enough.
            var t = 1.0
            var accepted = false
            for _ in 0..<40 {
                let candidate = (0..<d).map { beta[$0] - t * step[$0] }
                let candidateLoss = objective(candidate)
                if candidateLoss.isFinite, candidateLoss <= loss - 1e-4 * t * slope {
                    beta = candidate
                    loss = candidateLoss
                    accepted = true
                    break
                }
                t /= 2
            }
            // No decrease possible in floating point: at the optimum to machine precision.
            if !accepted {
                converged = true
                break
            }
        }
        var weights = [Double](repeating: 0, count: width)
        for (k, column) in active.enumerated() { weights[column] = beta[k + 1] }
        guard beta.allSatisfy(\.isFinite) else { throw .numerical("a coefficient is not finite") }
        return LogisticRegression(
            featureNames: features.names, means: means, scales: scales, weights: weights, intercept: beta[0], iterations: iterations,
            converged: converged, trainingRows: n, upRate: upRate)
    }
}

/// Numerically stable pieces of the logistic model.
public enum Logistic {
    /// `σ(η) = 1/(1 + e^−η)`, computed without overflow: `e^η/(1 + e^η)` for negative `η`.
    public static func sigmoid(_ eta: Double) -> Double {
        if eta >= 0 { return 1 / (1 + ElementaryMath.exp(-eta)) }
        let e = ElementaryMath.exp(eta)
        return e / (1 + e)
    }

    /// `log(1 + e^η) = max(η, 0) + log1p(e^−|η|)`, finite for every finite `η`.
    public static func softplus(_ eta: Double) -> Double { max(eta, 0) + log1p(ElementaryMath.exp(-abs(eta))) }

    /// The log-loss of predicting `σ(η)` for label `up`: `softplus(η) − y η` (= −log σ(η) for up,
    /// −log(1 − σ(η)) for down), exact where `−log p` would round `p` to 0.
    public static func logLoss(eta: Double, up: Bool) -> Double { softplus(eta) - (up ? eta : 0) }

    /// The log-loss of a constant probability `p` (the base rate), clipped to [1e-15, 1 − 1e-15].
    public static func logLoss(probability p: Double, up: Bool) -> Double {
        let clipped = min(max(p, 1e-15), 1 - 1e-15)
        return -ElementaryMath.log(up ? clipped : 1 - clipped)
    }

    /// `log(1 + x)` for `x ≥ 0`, accurate for tiny `x` (Goldberg's trick: `log(u) · x/(u − 1)`,
    /// `u = 1 + x`; Goldberg 1991, "What every computer scientist should know about floating-point
    /// arithmetic", theorem 4).
    static func log1p(_ x: Double) -> Double {
        let u = 1 + x
        if u == 1 { return x }
        return ElementaryMath.log(u) * x / (u - 1)
    }
}

/// Solves `A x = b` for a symmetric positive definite `A` (row-major, `size × size`) by Cholesky
/// decomposition `A = L Lᵀ` (Golub & Van Loan, *Matrix Computations*, §4.2). `nil` when `A` is
/// not positive definite.
enum Cholesky {
    static func solve(_ a: [Double], _ b: [Double], size n: Int) -> [Double]? {
        var l = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var sum = a[i * n + j]
                for k in 0..<j { sum -= l[i * n + k] * l[j * n + k] }
                if i == j {
                    guard sum > 0, sum.isFinite else { return nil }
                    l[i * n + i] = sum.squareRoot()
                } else {
                    l[i * n + j] = sum / l[j * n + j]
                }
            }
        }
        var y = [Double](repeating: 0, count: n)
        for i in 0..<n {
            var sum = b[i]
            for k in 0..<i { sum -= l[i * n + k] * y[k] }
            y[i] = sum / l[i * n + i]
        }
        var x = [Double](repeating: 0, count: n)
        for i in stride(from: n - 1, through: 0, by: -1) {
            var sum = y[i]
            for k in (i + 1)..<n { sum -= l[k * n + i] * x[k] }
            x[i] = sum / l[i * n + i]
        }
        return x
    }
}
