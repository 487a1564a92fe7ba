// Locating the package root and the project's `shared` folder (PACKAGE_ROOT/../shared) from tests.

import Foundation

/// The folder that contains this package's `Package.swift`.
public enum PackageRoot {
    /// Walks up from `filePath` (pass `#filePath` from the caller; defaults to the caller's file)
    /// and then from the current directory to the nearest folder holding `Package.swift`.
    /// Falls back to the current directory when none is found.
    public static func url(filePath: String = #filePath) -> URL {
        let fileDirectory = URL(fileURLWithPath: filePath).deletingLastPathComponent()
        let currentDirectory = URL(
            fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
        for start in [fileDirectory, currentDirectory] {
            if let root = find(from: start) { return root }
        }
        return currentDirectory
    }

    /// Nearest ancestor of `start` (inclusive) containing `Package.swift`, if any.
    public static func find(from start: URL) -> URL? {
        var directory = start.standardizedFileURL
        for _ in 0..<64 {
            if FileManager.default.fileExists(
                atPath: directory.appendingPathComponent("Package.swift").path)
            {
                return directory
            }
            let parent = directory.deletingLastPathComponent()
            if parent.path == directory.path { return nil }
            directory = parent
        }
        return nil
    }
}

/// The project's shared folder (recorded venue payloads under `data/api`, candle CSVs under `data`).
public enum SharedData {
    /// Environment variable that overrides the search.
    public static let environmentVariable = "NMRPERP_SHARED"

    /// The shared folder, or `nil` when it is not present on this machine.
    public static var root: URL? { root(filePath: #filePath) }

    /// `NMRPERP_SHARED` if set (and an existing folder), else the first `shared` folder holding a
    /// `data` subfolder that sits beside the package root found from `filePath` or from the
    /// current directory (or, failing that, beside any of their ancestors).
    public static func root(filePath: String) -> URL? {
        let fileManager = FileManager.default
        if let override = ProcessInfo.processInfo.environment[environmentVariable], !override.isEmpty {
            var isDirectory: ObjCBool = false
            let url = URL(fileURLWithPath: override, isDirectory: true).standardizedFileURL
            return fileManager.fileExists(atPath: url.path, isDirectory: &isDirectory)
                && isDirectory.boolValue
                ? url : nil
        }
        let starts = [
            URL(fileURLWithPath: filePath).deletingLastPathComponent(),
            URL(fileURLWithPath: fileManager.currentDirectoryPath, isDirectory: true),
        ]
        // Preferred: PACKAGE_ROOT/../shared
        for start in starts {
            if let packageRoot = PackageRoot.find(from: start) {
                let candidate = packageRoot.deletingLastPathComponent().appendingPathComponent(
                    "shared", isDirectory: true)
                if hasDataFolder(candidate) { return candidate.standardizedFileURL }
            }
        }
        // Fallback: any ancestor's `shared` sibling.
        for start in starts {
            var directory = start.standardizedFileURL
            for _ in 0..<64 {
                let candidate = directory.appendingPathComponent("shared", isDirectory: true)
                if hasDataFolder(candidate) { return candidate.standardizedFileURL }
                let parent = directory.deletingLastPathComponent()
                if parent.path == directory.path { break }
                directory = parent
            }
        }
        return nil
    }

    /// `root/relative` when that file or folder exists, else `nil`
    /// (e.g. `SharedData.file("data/api/binance_usdm/....json")`).
    public static func file(_ relative: String, filePath: String = #filePath) -> URL? {
        guard let root = root(filePath: filePath) else { return nil }
        let url = root.appendingPathComponent(relative)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    /// Contents of `root/relative`, or `nil` when absent or unreadable.
    public static func data(_ relative: String, filePath: String = #filePath) -> Data? {
        file(relative, filePath: filePath).flatMap { try? Data(contentsOf: $0) }
    }

    /// A message for skipping a test when `relative` is missing.
    public static func missingMessage(_ relative: String) -> String {
        "shared data file '\(relative)' not found (set \(environmentVariable) or place the shared folder beside the package root)"
    }

    private static func hasDataFolder(_ candidate: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(
            atPath: candidate.appendingPathComponent("data").path, isDirectory: &isDirectory)
            && isDirectory.boolValue
    }
}
