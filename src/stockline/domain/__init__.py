"""Pure rules of the inventory: value types, commands, events, errors. Standard library only."""
