import PerpModel

/// Building blocks of the report's inline SVG charts: downsampling, axes, coordinates.
/// Chart values are `Double` approximations for drawing only.

/// Escapes text for HTML and SVG content and attribute values: `& < > " '`.
func escapeHTML(_ text: String) -> String {
    var output = ""
    output.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": output += "&amp;"
        case "<": output += "&lt;"
        case ">": output += "&gt;"
        case "\"": output += "&quot;"
        case "'": output += "&#39;"
        default: output.unicodeScalars.append(scalar)
        }
    }
    return output
}

/// A series of points in time order.
struct Series {
    var times: [Int64]
    var values: [Double]

    var count: Int { times.count }

    /// M4 downsampling: per pixel column keeps the first, lowest, highest and last point, in time
    /// order, so the drawn line is the same as with every point. Series of at most four points a
    /// column are returned as they are.
    func downsampled(from t0: Int64, to t1: Int64, columns: Int) -> Series {
        let n = count
        guard n > columns * 4, columns > 0 else { return self }
        let perMillisecond = Double(columns) / Double(max(t1 - t0, 1))
        var out = Series(times: [], values: [])
        out.times.reserveCapacity(columns * 4)
        out.values.reserveCapacity(columns * 4)
        var column = Int.min
        var first = 0
        var low = 0
        var high = 0
        var last = 0
        func flush() {
            var picks = (first, low, high, last)
            // Sort the four indices (a tiny network) and drop repeats.
            if picks.1 < picks.0 { swap(&picks.0, &picks.1) }
            if picks.3 < picks.2 { swap(&picks.2, &picks.3) }
            if picks.2 < picks.0 { swap(&picks.0, &picks.2) }
            if picks.3 < picks.1 { swap(&picks.1, &picks.3) }
            if picks.2 < picks.1 { swap(&picks.1, &picks.2) }
            var previous = -1
            for index in [picks.0, picks.1, picks.2, picks.3] where index != previous {
                out.times.append(times[index])
                out.values.append(values[index])
                previous = index
            }
        }
        for index in 0..<n {
            let offset = Double(times[index] - t0) * perMillisecond
            let next = min(max(Int(offset), 0), columns - 1)
            if next != column {
                if column != Int.min { flush() }
                column = next
                first = index
                low = index
                high = index
                last = index
            } else {
                if values[index] < values[low] { low = index }
                if values[index] > values[high] { high = index }
                last = index
            }
        }
        flush()
        return out
    }

    /// Smallest and largest value (`nil` when empty).
    var range: (low: Double, high: Double)? {
        guard var low = values.first else { return nil }
        var high = low
        for value in values {
            if value < low { low = value }
            if value > high { high = value }
        }
        return (low, high)
    }
}

/// The rectangle a chart panel draws into, and the time and value ranges it shows.
struct PlotFrame {
    var left: Double
    var top: Double
    var width: Double
    var height: Double
    var t0: Int64
    var t1: Int64
    var v0: Double
    var v1: Double

    var bottom: Double { top + height }
    var right: Double { left + width }

    func x(_ time: Int64) -> Double { left + Double(time - t0) / Double(max(t1 - t0, 1)) * width }
    func y(_ value: Double) -> Double { top + (v1 - value) / (v1 - v0 == 0 ? 1 : v1 - v0) * height }

    func contains(time: Int64) -> Bool { time >= t0 && time <= t1 }
}

enum Axis {
    /// A round step (1, 2, 2.5 or 5 × 10^k) at least `raw`.
    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        var magnitude = 1.0
        while magnitude * 10 <= raw { magnitude *= 10 }
        while magnitude > raw { magnitude /= 10 }
        for multiple in [1.0, 2, 2.5, 5] where multiple * magnitude >= raw { return multiple * magnitude }
        return 10 * magnitude
    }

    /// Round ticks covering `low…high` (about `target` intervals) and the widened range.
    static func valueTicks(_ low: Double, _ high: Double, target: Int = 5) -> (low: Double, high: Double, ticks: [Double]) {
        var low = low
        var high = high
        if !(high > low) {
            let pad = low == 0 ? 1 : abs(low) * 0.05
            low -= pad
            high += pad
        }
        let step = niceStep((high - low) / Double(target))
        let first = (low / step).rounded(.down)
        let last = (high / step).rounded(.up)
        guard last - first < 1000 else { return (low, high, [low, high]) }
        let ticks = (Int(first)...Int(last)).map { Double($0) * step }
        return (first * step, last * step, ticks)
    }

    private static let timeSteps: [Int64] = {
        let second: Int64 = 1000
        let minute = 60 * second
        let hour = 60 * minute
        let day = 24 * hour
        return [
            second, 2 * second, 5 * second, 10 * second, 15 * second, 30 * second, minute, 2 * minute, 5 * minute, 10 * minute,
            15 * minute, 30 * minute, hour, 2 * hour, 3 * hour, 6 * hour, 12 * hour, day, 2 * day, 7 * day, 14 * day,
        ]
    }()

    /// Tick times at a round step (UTC aligned) with their labels: dates for steps of a day or
    /// more, `MM-DD HH:MM` below, `HH:MM:SS` below a minute.
    static func timeTicks(_ t0: Int64, _ t1: Int64) -> [(time: Int64, label: String)] {
        let span = max(t1 - t0, 1)
        guard let step = timeSteps.first(where: { span / $0 <= 7 }) else { return monthTicks(t0, t1) }
        var tick = floorDivide(t0, step) * step
        if tick < t0 { tick += step }
        var ticks: [(Int64, String)] = []
        while tick <= t1, ticks.count < 100 {
            let iso = Timestamp(milliseconds: tick).iso8601
            let label: String
            if step >= 86_400_000 {
                label = String(iso.prefix(10))
            } else if step >= 60_000 {
                label = String(iso.dropFirst(5).prefix(11)).replacingT()
            } else {
                label = String(iso.dropFirst(11).prefix(8))
            }
            ticks.append((tick, label))
            tick += step
        }
        return ticks
    }

    /// Ticks on the first of every 1, 2, 3, 6 or 12 months (or 2, 5, 10, 20 years), labelled
    /// `2024-02`, or `2024` for yearly steps.
    private static func monthTicks(_ t0: Int64, _ t1: Int64) -> [(time: Int64, label: String)] {
        let averageMonth: Int64 = 2_629_746_000  // 365.2425 days / 12
        let span = max(t1 - t0, 1)
        let steps: [Int64] = [1, 2, 3, 6, 12, 24, 60, 120, 240]
        let months: Int64 = steps.first(where: { span / ($0 * averageMonth) <= 7 }) ?? 600
        let (year, month, day) = CivilCalendar.civil(fromDays: Timestamp(milliseconds: t0).utcDay)
        var index = year * 12 + month - 1  // months since year 0
        if day > 1 || Timestamp(milliseconds: t0).milliseconds % 86_400_000 != 0 { index += 1 }
        let remainder = index % months
        if remainder != 0 { index += months - (remainder < 0 ? remainder + months : remainder) }
        var ticks: [(Int64, String)] = []
        while ticks.count < 100 {
            let tickYear = floorDivide(index, 12)
            let tickMonth = index - tickYear * 12 + 1
            let time = CivilCalendar.days(fromCivil: tickYear, tickMonth, 1) * 86_400_000
            if time > t1 { break }
            let iso = Timestamp(milliseconds: time).iso8601
            ticks.append((time, String(iso.prefix(months >= 12 ? 4 : 7))))
            index += months
        }
        return ticks
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        let quotient = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
    }

    /// A tick value as short text.
    static func label(_ value: Double) -> String {
        formatDouble(abs(value) < 1e-12 ? 0 : value, significant: 10)
    }
}

extension String {
    fileprivate func replacingT() -> String {
        String(self.map { $0 == "T" ? " " : $0 })
    }
}

/// Writes SVG text.
struct SVGWriter {
    var text = ""

    /// A coordinate with one decimal.
    static func coordinate(_ value: Double) -> String {
        let tenths = (value * 10).rounded(.toNearestOrEven)
        guard tenths.isFinite, abs(tenths) < 1e15 else { return "0" }
        return DecimalFormatter.string(raw: Int64(tenths), decimals: 1, minimumFraction: 0)
    }

    mutating func open(width: Int, height: Int, label: String) {
        text += "<svg viewBox=\"0 0 \(width) \(height)\" width=\"100%\" role=\"img\" aria-label=\"\(escapeHTML(label))\""
        text += " font-size=\"12\" font-family=\"system-ui, sans-serif\">\n"
    }

    mutating func close() { text += "</svg>\n" }

    /// Grid lines and labels for the value axis and, when `timeLabels`, the time axis.
    mutating func axes(
        _ frame: PlotFrame, valueTicks: [Double], valueLabel: (Double) -> String, timeLabels: Bool, title: String
    ) {
        let c = SVGWriter.coordinate
        text += "<g class=\"grid\">"
        for tick in valueTicks {
            let y = c(frame.y(tick))
            text += "<line x1=\"\(c(frame.left))\" x2=\"\(c(frame.right))\" y1=\"\(y)\" y2=\"\(y)\"/>"
        }
        let timeTicks = Axis.timeTicks(frame.t0, frame.t1)
        for tick in timeTicks {
            let x = c(frame.x(tick.time))
            text += "<line x1=\"\(x)\" x2=\"\(x)\" y1=\"\(c(frame.top))\" y2=\"\(c(frame.bottom))\"/>"
        }
        text += "</g>\n<g class=\"labels\">"
        for tick in valueTicks {
            text += "<text x=\"\(c(frame.left - 6))\" y=\"\(c(frame.y(tick) + 4))\" text-anchor=\"end\">"
            text += escapeHTML(valueLabel(tick)) + "</text>"
        }
        if timeLabels {
            for tick in timeTicks {
                text += "<text x=\"\(c(frame.x(tick.time)))\" y=\"\(c(frame.bottom + 16))\" text-anchor=\"middle\">"
                text += escapeHTML(tick.label) + "</text>"
            }
        }
        text += "<text x=\"\(c(frame.left))\" y=\"\(c(frame.top - 6))\" class=\"panel-title\">\(escapeHTML(title))</text>"
        text += "</g>\n"
        text += "<rect class=\"frame\" x=\"\(c(frame.left))\" y=\"\(c(frame.top))\" width=\"\(c(frame.width))\""
        text += " height=\"\(c(frame.height))\"/>\n"
    }

    /// A polyline through the points of `series`.
    mutating func line(_ series: Series, in frame: PlotFrame, className: String) {
        guard series.count > 0 else { return }
        text += "<polyline class=\"\(className)\" points=\""
        appendPoints(series, in: frame)
        text += "\"/>\n"
    }

    /// A filled area between `baseline` and the points of `series`.
    mutating func area(_ series: Series, baseline: Double, in frame: PlotFrame, className: String) {
        guard series.count > 0 else { return }
        let c = SVGWriter.coordinate
        let base = c(frame.y(baseline))
        text += "<polygon class=\"\(className)\" points=\"\(c(frame.x(series.times[0]))),\(base) "
        appendPoints(series, in: frame)
        text += " \(c(frame.x(series.times[series.count - 1]))),\(base)\"/>\n"
    }

    /// A step line: each value holds until the next point's time, and the last until `end`.
    mutating func steps(_ series: Series, start: Int64, end: Int64, in frame: PlotFrame, className: String) {
        let c = SVGWriter.coordinate
        text += "<polyline class=\"\(className)\" points=\"\(c(frame.x(start))),\(c(frame.y(0)))"
        var previous = 0.0
        for index in 0..<series.count {
            let x = c(frame.x(series.times[index]))
            text += " \(x),\(c(frame.y(previous))) \(x),\(c(frame.y(series.values[index])))"
            previous = series.values[index]
        }
        text += " \(c(frame.x(end))),\(c(frame.y(previous)))\"/>\n"
    }

    private mutating func appendPoints(_ series: Series, in frame: PlotFrame) {
        let c = SVGWriter.coordinate
        for index in 0..<series.count {
            if index > 0 { text += " " }
            text += c(frame.x(series.times[index]))
            text += ","
            text += c(frame.y(series.values[index]))
        }
    }

    /// Centred text inside `frame` (for an empty chart).
    mutating func message(_ message: String, in frame: PlotFrame) {
        let c = SVGWriter.coordinate
        text += "<text x=\"\(c(frame.left + frame.width / 2))\" y=\"\(c(frame.top + frame.height / 2))\" text-anchor=\"middle\""
        text += " class=\"empty\">\(escapeHTML(message))</text>\n"
    }
}

/// One entry of a chart's legend: a sample of a line (by its CSS class), of a filled area, or
/// of a marker (a `<use>` of a symbol in the chart's `<defs>`), and its label.
struct LegendKey {
    enum Swatch {
        case line(className: String)
        case area(className: String)
        case marker(id: String)
    }

    var swatch: Swatch
    var label: String
}

extension SVGWriter {
    /// A legend row starting at (`x`, `y`): each key's swatch, then its escaped label.
    mutating func legend(_ keys: [LegendKey], x start: Double, y: Double) {
        let c = SVGWriter.coordinate
        var x = start
        text += "<g class=\"legend\">"
        for key in keys {
            switch key.swatch {
            case .line(let className):
                text += "<line class=\"\(className)\" x1=\"\(c(x))\" x2=\"\(c(x + 22))\" y1=\"\(c(y - 4))\" y2=\"\(c(y - 4))\"/>"
            case .area(let className):
                text += "<rect class=\"\(className)\" x=\"\(c(x))\" y=\"\(c(y - 10))\" width=\"22\" height=\"10\"/>"
            case .marker(let id):
                text += "<use href=\"#\(id)\" x=\"\(c(x + 11))\" y=\"\(c(y - 4))\"/>"
            }
            text += "<text x=\"\(c(x + 28))\" y=\"\(c(y))\">\(escapeHTML(key.label))</text>"
            x += 48 + Double(key.label.count) * 6.5
        }
        text += "</g>\n"
    }

    /// Invisible columns over `frame`, one per `frame.width / columns` pixels that holds at least
    /// one of `times`, each with a `<title>` (the browser's own tooltip, no script) that
    /// `describe` writes for the last index of `times` in the column. `times` ascending.
    mutating func hover(_ frame: PlotFrame, times: [Int64], columns: Int, describe: (Int) -> String) {
        guard !times.isEmpty, columns > 0 else { return }
        let c = SVGWriter.coordinate
        let width = frame.width / Double(columns)
        text += "<g class=\"hover\">"
        var index = 0
        while index < times.count {
            let column = min(max(Int((frame.x(times[index]) - frame.left) / width), 0), columns - 1)
            var last = index
            while last + 1 < times.count,
                min(max(Int((frame.x(times[last + 1]) - frame.left) / width), 0), columns - 1) == column
            {
                last += 1
            }
            text += "<rect x=\"\(c(frame.left + Double(column) * width))\" y=\"\(c(frame.top))\" width=\"\(c(width))\""
            text += " height=\"\(c(frame.height))\"><title>\(escapeHTML(describe(last)))</title></rect>"
            index = last + 1
        }
        text += "</g>\n"
    }

    /// A dashed vertical line at `time` across `frame` with a `<title>`, labelled at the top
    /// when `label` is not empty.
    mutating func verticalMarker(at time: Int64, in frame: PlotFrame, className: String, label: String, title: String) {
        guard frame.contains(time: time) else { return }
        let c = SVGWriter.coordinate
        let x = c(frame.x(time))
        text += "<line class=\"\(className)\" x1=\"\(x)\" x2=\"\(x)\" y1=\"\(c(frame.top))\" y2=\"\(c(frame.bottom))\">"
        text += "<title>\(escapeHTML(title))</title></line>"
        if !label.isEmpty {
            text += "<text class=\"marker-label\" x=\"\(c(frame.x(time) + 3))\" y=\"\(c(frame.top + 12))\">\(escapeHTML(label))</text>"
        }
        text += "\n"
    }
}

/// `HH:MM` or `YYYY-MM-DD HH:MM` of a time, for tooltips.
func shortTime(_ milliseconds: Int64) -> String {
    String(Timestamp(milliseconds: milliseconds).iso8601.prefix(16)).replacingOccurrencesOfT()
}

extension String {
    fileprivate func replacingOccurrencesOfT() -> String { String(self.map { $0 == "T" ? " " : $0 }) }
}

extension SVGWriter {
    /// Like ``line(_:in:className:)`` but a new polyline starts wherever two consecutive points
    /// are more than `maximumGap` milliseconds apart, so missing stretches stay empty.
    mutating func brokenLine(_ series: Series, in frame: PlotFrame, className: String, maximumGap: Int64) {
        guard series.count > 0 else { return }
        var start = 0
        for index in 1...series.count {
            if index == series.count || series.times[index] - series.times[index - 1] > maximumGap {
                line(
                    Series(times: Array(series.times[start..<index]), values: Array(series.values[start..<index])), in: frame,
                    className: className)
                start = index
            }
        }
    }
}
