/// A field's name as it lies in a head, as `HTTPHeaders.write(into:skipping:)` shows it to the caller: its bytes as
/// sent and the `KnownFieldName` they spell, if any. Valid only inside the call that shows it.
public struct HTTPFieldNameView {
    public let bytes: UnsafeRawBufferPointer
    /// Set exactly when `bytes` spell a known name: a nil here means the name is none of them.
    public let known: KnownFieldName?
}
