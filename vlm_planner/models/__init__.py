"""Model backends: one protocol (:mod:`.base`) and one module per way of running a model."""
