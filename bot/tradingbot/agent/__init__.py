"""The CLSTM-PPO agent: network, experience buffer, PPO update and checkpoints."""
