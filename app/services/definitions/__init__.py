"""Process definitions: checking and deploying versions (`deploy`), the process owners' area of versions and live
waiting counts (`versions`), and moving running instances to a newer version (`instance_moves`)."""
