/// The version of Sluice, shown by the console.
public enum SluiceVersion {
    public static let text = "0.1.0-dev"
}
