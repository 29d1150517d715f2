"""Concealed stratified permuted-block randomisation: allocation lists, allocations,
randomisation errors and the balance report."""
