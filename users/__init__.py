"""The RideShare users service: sign-up, removal and listing of users."""
