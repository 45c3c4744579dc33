# pragma version ~=0.4.3
"""
@title MockFailingToken
@notice Test-only ERC-20 whose `transfer` / `transferFrom` return False (without reverting
        or moving anything) while `failing` is set, like old tokens that signal failure by
        return value. Lets tests reach the Clearinghouse's "transfer failed" checks. Anyone
        can mint and toggle; never deploy on a network with value.
"""

# base units per account
balanceOf: public(HashMap[address, uint256])
# owner -> spender -> base units
allowance: public(HashMap[address, HashMap[address, uint256]])
totalSupply: public(uint256)
# while True, transfers return False and change nothing
failing: public(bool)


@external
def set_failing(failing_: bool):
    self.failing = failing_


@external
def mint(to: address, amount: uint256):
    self.balanceOf[to] += amount
    self.totalSupply += amount


@external
def approve(spender: address, amount: uint256) -> bool:
    self.allowance[msg.sender][spender] = amount
    return True


@external
def transfer(to: address, amount: uint256) -> bool:
    if self.failing:
        return False
    self.balanceOf[msg.sender] -= amount
    self.balanceOf[to] += amount
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    if self.failing:
        return False
    self.allowance[owner][msg.sender] -= amount
    self.balanceOf[owner] -= amount
    self.balanceOf[to] += amount
    return True
