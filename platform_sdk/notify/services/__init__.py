"""Services of webhooks and notifications (every public function takes a keyword-only actor)."""
