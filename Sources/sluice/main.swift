import SluiceCLI
import SluiceFilters

SluiceCommand.main(registry: BuiltinFilters.registry())
