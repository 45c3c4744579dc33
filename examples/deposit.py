"""Fund a margin account: faucet (devnet), approve + deposit, then show the account.

python examples/deposit.py --key 0x... 5000
"""

from decimal import Decimal

from _common import parser, run

from sdk.client import Client


def main() -> None:
    p = parser(__doc__)
    p.add_argument("amount", type=Decimal, help="USD to deposit")
    p.add_argument("--no-faucet", action="store_true", help="do not mint devnet MockUSDC first")
    a = p.parse_args()
    c = Client(a.manifest, a.rpc, private_key=a.key)
    if not a.no_faucet and c.faucet_token is not None and c.me().wallet_balance < a.amount:
        c.faucet(a.amount)
    c.deposit(a.amount)  # approves the Clearinghouse first when needed
    acct = c.me()
    print(
        f"{acct.address}: collateral {acct.collateral} USD, equity {acct.equity} USD, "
        f"free {acct.free_collateral} USD, wallet {acct.wallet_balance} USD"
    )


if __name__ == "__main__":
    run(main)
