"""What people are told: in-app notifications (the bell) and the staff emails that go with them."""
