"""Everything that fills the index: loaders, chunking, incremental indexing."""
