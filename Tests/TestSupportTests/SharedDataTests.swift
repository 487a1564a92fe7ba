import Foundation
import Testing

@testable import TestSupport

@Suite("SharedData and PackageRoot")
struct SharedDataTests {
    @Test func packageRootContainsPackageSwift() {
        let root = PackageRoot.url()
        #expect(
            FileManager.default.fileExists(atPath: root.appendingPathComponent("Package.swift").path))
        #expect(
            FileManager.default.fileExists(atPath: root.appendingPathComponent("Tests/TestSupport").path))
    }

    @Test func sharedRootIsBesideThePackageWhenPresent() throws {
        guard let root = SharedData.root else {
            // The shared folder is optional on a bare checkout; say so instead of failing.
            print(
                "SharedDataTests: shared folder not found; skipping (\(SharedData.missingMessage("data")))")
            return
        }
        if ProcessInfo.processInfo.environment[SharedData.environmentVariable] == nil {
            let expected = PackageRoot.url().deletingLastPathComponent().appendingPathComponent("shared")
            #expect(root.standardizedFileURL.path == expected.standardizedFileURL.path)
        }
        #expect(SharedData.file("data") != nil)
        #expect(SharedData.file("data/definitely-not-here.json") == nil)
    }

    @Test func missingFileGivesNilAndAMessage() {
        #expect(SharedData.file("no/such/file.json") == nil)
        #expect(SharedData.data("no/such/file.json") == nil)
        #expect(SharedData.missingMessage("x.json").contains("NMRPERP_SHARED"))
    }

    @Test func findReturnsNilOutsideAnyPackage() {
        #expect(PackageRoot.find(from: URL(fileURLWithPath: "/proc/self")) == nil)
    }
}
