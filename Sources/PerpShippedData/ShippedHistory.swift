import Foundation
import PerpMarketData
import PerpModel

/// The compact real NMR history the package ships as a resource (issue 15), so the main job,
/// `nmrperp hedge plan --stake 10 --price 8`, measures g from real bars on a fresh clone with no
/// network. `SOURCE.md` beside this file says where the bars came from and why 30 minutes.
///
/// The resource bundle is looked up by hand rather than through SwiftPM's `Bundle.module`,
/// whose accessor stops the process (`fatalError`) when the bundle is missing, as it is when
/// the binary is copied away from its build folder: here a missing bundle is an error the
/// caller reports, never a crash.
public enum ShippedHistory {
    /// The shipped file's name inside the resource bundle.
    public static let fileName = "binance_usdm_NMRUSDT_30m_2024-10-23_2025-10-23.csv"
    /// The bundle SwiftPM builds for this target, next to the executable.
    public static let bundleName = "NMRPerp_PerpShippedData.resources"
    /// What the history is, for output.
    public static let label = "Binance USD-M NMRUSDT 30m bars shipped with nmrperp"
    /// The environment variable that names the file explicitly (then nothing else is searched).
    public static let environmentKey = "NMRPERP_SHIPPED_HISTORY"

    /// The shipped bars and where they were read from.
    public struct Loaded: Sendable {
        public let series: CandleSeries
        public let path: String
    }

    public enum Failure: Error, CustomStringConvertible, Sendable {
        case notFound(searched: [String])
        case unreadable(path: String, reason: String)

        public var description: String {
            switch self {
            case .notFound(let searched):
                return "the history shipped with nmrperp is not next to the binary (looked for \(searched.joined(separator: ", ")))"
            case .unreadable(let path, let reason):
                return "the history shipped with nmrperp (\(path)) could not be read: \(reason)"
            }
        }
    }

    /// The places searched, in order: `$NMRPERP_SHIPPED_HISTORY` alone when set; otherwise the
    /// resource bundle beside the main bundle and beside the real (symlink-resolved) executable.
    public static func candidates(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        if let explicit = environment[environmentKey], !explicit.isEmpty { return [explicit] }
        var directories: [String] = [Bundle.main.bundleURL.path]
        if let executable = Bundle.main.executableURL {
            directories.append(executable.resolvingSymlinksInPath().deletingLastPathComponent().path)
        }
        var seen = Set<String>()
        return directories.compactMap { directory in
            let path = URL(fileURLWithPath: directory).appendingPathComponent(bundleName).appendingPathComponent(fileName).path
            return seen.insert(path).inserted ? path : nil
        }
    }

    /// Reads the shipped bars; a missing or damaged file is a `Failure`, never a trap.
    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment) throws(Failure) -> Loaded {
        let searched = candidates(environment: environment)
        guard let path = searched.first(where: { FileManager.default.isReadableFile(atPath: $0) }) else {
            throw .notFound(searched: searched)
        }
        let bytes: [UInt8]
        do {
            bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw .unreadable(path: path, reason: error.localizedDescription)
        }
        do {
            let series = try CandleCSV.parse(bytes, source: path)
            guard series.count >= 2 else { throw Failure.unreadable(path: path, reason: "it holds fewer than two bars") }
            return Loaded(series: series, path: path)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .unreadable(path: path, reason: String(describing: error))
        }
    }
}
