select
    id as order_id,
    customer as customer_id,
    amount / 100.0 as amount_usd,
    status
from {{ ref('raw_orders') }}
