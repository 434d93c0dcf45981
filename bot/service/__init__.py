"""The composition root: wires the store, pipeline, scheduler and adapters into a running bot."""
