"""Use cases. Each public function opens one unit of work, checks permissions, and commits or changes nothing."""
