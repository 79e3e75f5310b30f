-- The verified-owner rule gave way to the identifier-strength rule: nothing calls it now.

drop function customer_management.verified_owner_wins(
    customer_management.api_caller, customer_management.identifier_claim[]
);

drop type customer_management.identifier_owners;
