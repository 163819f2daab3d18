"""Everything that fills the index: loaders, chunking, incremental indexing. Imports only bot.core."""
