"""The sharechain's LevelDB adapter: durable share storage and bringing a stored chain back."""
