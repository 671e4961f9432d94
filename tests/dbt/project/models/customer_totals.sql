select
    c.customer_id,
    c.full_name,
    sum(o.amount_usd) as total_usd
from {{ ref('stg_customers') }} as c
join {{ ref('stg_orders') }} as o on o.customer_id = c.customer_id
where o.status = 'paid'
group by c.customer_id, c.full_name
