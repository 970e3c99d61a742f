import CustomFilters
import SluiceCLI
import SluiceFilters

// The `sluice` command line with the example's filters added to the built-in ones.
let registry = BuiltinFilters.registry()
CustomFilters.register(into: registry)
SluiceCommand.main(registry: registry)
