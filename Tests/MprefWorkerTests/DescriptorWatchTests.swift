import Testing
@testable import MprefWorker

/// Issue 17.6: the file-descriptor warning's threshold (pure).
@Suite struct DescriptorWatchTests {
    @Test func nearTheLimitMeansAtLeastTheThresholdShare() {
        #expect(!DescriptorWatch.isNearLimit(open: 899, limit: 1000, threshold: 0.9))
        #expect(DescriptorWatch.isNearLimit(open: 900, limit: 1000, threshold: 0.9))
        #expect(!DescriptorWatch.isNearLimit(open: 5, limit: 0, threshold: 0.9))
        #expect(!DescriptorWatch.isNearLimit(open: 1_000_000, limit: Int.max, threshold: 0.9))
    }
}
